"""The spec's orphan mitigation table, row by row (see osb/orphans.py for the table and its sources)."""

from __future__ import annotations

import pytest

from osb import errors
from osb.orphans import mitigation_target, needs_orphan_mitigation

ALL = ("provision", "deprovision", "update", "bind", "unbind")
LIFECYCLE = ("provision", "deprovision", "bind", "unbind")


def malformed(status):
    return errors.MalformedResponse("bad body", status=status)


def broker_error(status, error=None):
    return errors.error_class(status, error)(status=status, error=error)


# (row of the spec's table, requests it applies to, what happened, requests that mitigate)
TABLE = [
    ("All / 200", ALL, {"status": 200}, ()),
    ("All / 200 with malformed response", ALL, {"error": malformed(200)}, ()),
    ("last_operation / 200 state failed", ALL, {"state": "failed"}, LIFECYCLE),
    ("last_operation / 200 state succeeded", ALL, {"state": "succeeded"}, ()),
    ("All / 201", ALL, {"status": 201}, ()),
    ("Provisioning, Binding / 201 with malformed response", ALL, {"error": malformed(201)}, ("provision", "bind")),
    ("All / 202", ALL, {"status": 202}, ()),
    ("All / 202 with malformed response", ALL, {"error": malformed(202)}, ()),
    ("All other 2xx (204)", ALL, {"status": 204}, LIFECYCLE),
    ("All other 2xx (206) raised", ALL, {"error": broker_error(206)}, LIFECYCLE),
    ("All / 408", ALL, {"status": 408}, ()),
    ("All other 4xx: 400", ALL, {"error": broker_error(400)}, ()),
    ("All other 4xx: 404", ALL, {"status": 404}, ()),
    ("All other 4xx: 409 Conflict", ALL, {"error": broker_error(409)}, ()),
    ("All other 4xx: 410 Gone", ALL, {"status": 410}, ()),
    ("All other 4xx: 422 AsyncRequired", ALL, {"error": broker_error(422, "AsyncRequired")}, ()),
    ("All other 4xx: 422 ConcurrencyError", ALL, {"error": broker_error(422, "ConcurrencyError")}, ()),
    ("All other 4xx: 422 MaintenanceInfoConflict", ALL, {"error": broker_error(422, "MaintenanceInfoConflict")}, ()),
    ("All other 4xx: 422 RequiresApp", ALL, {"error": broker_error(422, "RequiresApp")}, ()),
    ("5xx: 500", ALL, {"status": 500}, LIFECYCLE),
    ("5xx: 503 raised", ALL, {"error": broker_error(503)}, LIFECYCLE),
    ("Timeout", ALL, {"error": errors.BrokerTimeout("read timeout")}, ("provision", "bind")),
    # Not in the table; decided in osb/orphans.py's docstring:
    ("request never sent", ALL, {"error": errors.BrokerUnreachable("refused")}, ()),
    (
        "maximum polling duration",
        ALL,
        {"error": errors.PollingTimeout("1h")},
        ("provision", "deprovision", "bind", "unbind"),
    ),
    ("3xx", ALL, {"status": 302}, ("provision", "bind")),
    ("platform internal error", ALL, {"error": RuntimeError("saving failed")}, ("provision", "bind")),
]


@pytest.mark.parametrize(
    ("request_kind", "outcome", "expected"),
    [(req, outcome, req in yes) for _, reqs, outcome, yes in TABLE for req in reqs],
    ids=[f"{row} [{req}]" for row, reqs, _, _ in TABLE for req in reqs],
)
def test_orphan_mitigation_table(request_kind, outcome, expected):
    assert needs_orphan_mitigation(request_kind, **outcome) is expected


def test_what_gets_deleted():
    assert mitigation_target("provision") == mitigation_target("deprovision") == "instance"
    assert mitigation_target("bind") == mitigation_target("unbind") == "binding"
    assert mitigation_target("update") is None


def test_bad_arguments():
    with pytest.raises(ValueError):
        needs_orphan_mitigation("catalog", 500)
    with pytest.raises(ValueError):
        needs_orphan_mitigation("provision")
