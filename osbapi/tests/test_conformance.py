"""Servicebay's OSB broker API against the OSB spec v2.17, endpoint by endpoint, status code by status
code: one row per rule of the spec (quoted in the row's ``spec``), each from a fresh starting state
built through the API itself (provisioning runs for real on the local Kubernetes API server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from instances.models import Binding, Instance
from marketplace.services import unlist_listing
from osbapi.tests.conftest import OSB, buy, for_type, new_id, run, sell_type
from portal.models import Operation

# --- starting states ------------------------------------------------------------------------------


def st_none(osb: OSB) -> dict:
    return {"iid": new_id(), "bid": new_id()}


def st_provisioning(osb: OSB) -> dict:
    s = st_none(osb)
    r = osb.provision(s["iid"])
    assert r.status_code == 202, r.content
    s["op"] = r.json()["operation"]
    return s


def st_ready(osb: OSB) -> dict:
    s = st_provisioning(osb)
    done = run(s["op"])
    assert done.state == "succeeded", done.error
    return s


def st_updating(osb: OSB) -> dict:
    s = st_ready(osb)
    r = osb.request("PATCH", f"service_instances/{s['iid']}", osb.ids("large"), {"accepts_incomplete": "true"})
    assert r.status_code == 202, r.content
    s["update_op"] = r.json()["operation"]
    return s


def st_deprovisioning(osb: OSB) -> dict:
    s = st_ready(osb)
    r = osb.request("DELETE", f"service_instances/{s['iid']}", query={**osb.ids(), "accepts_incomplete": "true"})
    assert r.status_code == 202, r.content
    s["delete_op"] = r.json()["operation"]
    return s


def st_deprovisioned(osb: OSB) -> dict:
    s = st_deprovisioning(osb)
    assert run(s["delete_op"]).state == "succeeded"
    return s


def st_bound(osb: OSB) -> dict:
    s = st_ready(osb)
    r = osb.bind(s["iid"], s["bid"])
    assert r.status_code == 201, r.content
    s["credentials"] = r.json()["credentials"]
    return s


def st_binding(osb: OSB) -> dict:
    s = st_ready(osb)
    r = osb.bind(s["iid"], s["bid"], accepts=True)
    assert r.status_code == 202, r.content
    s["bind_op"] = r.json()["operation"]
    return s


def st_unbinding(osb: OSB) -> dict:
    s = st_bound(osb)
    r = osb.request(
        "DELETE",
        f"service_instances/{s['iid']}/service_bindings/{s['bid']}",
        query={**osb.ids(), "accepts_incomplete": "true"},
    )
    assert r.status_code == 202, r.content
    s["unbind_op"] = r.json()["operation"]
    return s


# --- requests -------------------------------------------------------------------------------------

ACC = {"accepts_incomplete": "true"}


def inst(s) -> str:
    return f"service_instances/{s['iid']}"


def bnd(s) -> str:
    return f"service_instances/{s['iid']}/service_bindings/{s['bid']}"


@dataclass
class Case:
    id: str
    spec: str
    state: Callable[[OSB], dict]
    call: Callable[[OSB, dict], Any]
    status: int
    error: str | None = None
    check: Callable[[Any, OSB, dict], None] | None = None
    extra: dict = field(default_factory=dict)


def body_is(expected):
    def check(r, osb, s):
        assert r.json() == expected

    return check


def op_is(key):
    def check(r, osb, s):
        assert r.json()["operation"] == s[key]

    return check


def last_op_is(state: str, retry_after: bool = False):
    def check(r, osb, s):
        assert r.json()["state"] == state
        assert ("Retry-After" in r.headers) == retry_after
        if retry_after:
            assert int(r.headers["Retry-After"]) > 0

    return check


def mentions(*words):
    def check(r, osb, s):
        text = r.json()["description"]
        for word in words:
            assert word in text, text

    return check


CASES = [
    # -- headers and authentication ---------------------------------------------------------------
    Case(
        "auth-missing",
        "MUST return 401 if authentication fails",
        st_none,
        lambda o, s: o.request("GET", "catalog", auth=False),
        401,
        check=lambda r, o, s: r.headers["WWW-Authenticate"].startswith("Basic"),
    ),
    Case(
        "auth-wrong-secret",
        "MUST return 401 if authentication fails",
        st_none,
        lambda o, s: o.request("GET", "catalog", auth=(o.username, "wrong")),
        401,
    ),
    Case(
        "auth-unknown-user",
        "MUST return 401 if authentication fails",
        st_none,
        lambda o, s: o.request("GET", "catalog", auth=("nobody", "x")),
        401,
    ),
    Case(
        "auth-on-mutation",
        "MUST return 401 if authentication fails",
        st_none,
        lambda o, s: o.request("PUT", inst(s), {**o.ids()}, ACC, auth=(o.username, "wrong")),
        401,
    ),
    Case(
        "version-missing",
        "X-Broker-API-Version is REQUIRED; 412 Precondition Failed",
        st_none,
        lambda o, s: o.request("GET", "catalog", version=None),
        412,
        check=mentions("2.14"),
    ),
    Case(
        "version-too-old",
        "reject unsupported versions with 412 (2.14 and later accepted)",
        st_none,
        lambda o, s: o.request("GET", "catalog", version="2.13"),
        412,
    ),
    Case(
        "version-malformed",
        "version numbers are MAJOR.MINOR",
        st_none,
        lambda o, s: o.request("GET", "catalog", version="two"),
        412,
    ),
    Case(
        "version-next-major",
        "reject unsupported versions with 412",
        st_none,
        lambda o, s: o.request("GET", "catalog", version="3.0"),
        412,
    ),
    Case(
        "version-2.14",
        "2.14 and later are accepted",
        st_none,
        lambda o, s: o.request("GET", "catalog", version="2.14"),
        200,
    ),
    Case(
        "request-identity",
        "the broker SHOULD include X-Broker-API-Request-Identity in the response",
        st_none,
        lambda o, s: o.request("GET", "catalog", **{"X-Broker-API-Request-Identity": "req-42"}),
        200,
        check=lambda r, o, s: r.headers["X-Broker-API-Request-Identity"] == "req-42",
    ),
    Case(
        "request-identity-on-error",
        "echoed on errors too",
        st_none,
        lambda o, s: o.request("GET", "catalog", version=None, **{"X-Broker-API-Request-Identity": "req-43"}),
        412,
        check=lambda r, o, s: r.headers["X-Broker-API-Request-Identity"] == "req-43",
    ),
    Case("method-not-allowed", "only the spec's methods", st_none, lambda o, s: o.request("POST", "catalog"), 405),
    # -- provision ----------------------------------------------------------------------------------
    Case(
        "provision-async-required",
        "422 AsyncRequired without accepts_incomplete=true",
        st_none,
        lambda o, s: o.provision(s["iid"], accepts=False),
        422,
        "AsyncRequired",
    ),
    Case(
        "provision-accepted",
        "202 Accepted with an operation",
        st_none,
        lambda o, s: o.provision(s["iid"]),
        202,
        check=lambda r, o, s: r.json()["operation"] and r.json()["dashboard_url"].startswith("http"),
    ),
    Case(
        "provision-repeat-in-progress",
        "a re-sent PUT MUST return 202 with the same operation",
        st_provisioning,
        lambda o, s: o.provision(s["iid"]),
        202,
        check=op_is("op"),
    ),
    Case(
        "provision-repeat-done",
        "200 OK if it exists, is provisioned and identical",
        st_ready,
        lambda o, s: o.provision(s["iid"]),
        200,
    ),
    Case(
        "provision-conflict-plan",
        "409 if it exists with different attributes",
        st_ready,
        lambda o, s: o.provision(s["iid"], plan="large"),
        409,
    ),
    Case(
        "provision-conflict-params",
        "409 if it is being provisioned with different attributes",
        st_provisioning,
        lambda o, s: o.provision(s["iid"], parameters={"tag": "2.0"}),
        409,
    ),
    Case(
        "provision-bad-parameter",
        "400 when parameters fail the schema, naming the field",
        st_none,
        lambda o, s: o.provision(s["iid"], parameters={"port": 70000}),
        400,
        check=mentions("port"),
    ),
    Case(
        "provision-locked-parameter",
        "a plan's locked parameter cannot be set",
        st_none,
        lambda o, s: o.provision(s["iid"], parameters={"replicas": 4}),
        400,
        check=mentions("replicas"),
    ),
    Case(
        "provision-missing-service-id",
        "400 if missing mandatory data",
        st_none,
        lambda o, s: o.request("PUT", inst(s), {"plan_id": o.plan_id()}, ACC),
        400,
        check=mentions("service_id"),
    ),
    Case(
        "provision-unknown-plan",
        "plan_id MUST be a plan of the offering",
        st_none,
        lambda o, s: o.request("PUT", inst(s), {"service_id": o.service_id, "plan_id": "nope"}, ACC),
        400,
    ),
    Case(
        "provision-unknown-service",
        "service_id MUST be in the catalog",
        st_none,
        lambda o, s: o.request("PUT", inst(s), {"service_id": "nope", "plan_id": o.plan_id()}, ACC),
        400,
    ),
    Case(
        "provision-not-json",
        "400 if the body is unprocessable",
        st_none,
        lambda o, s: o.request("PUT", inst(s), raw=b"{not json", query=ACC),
        400,
    ),
    Case(
        "provision-too-large",
        "400 if the body is unprocessable",
        st_none,
        lambda o, s: o.request("PUT", inst(s), raw=b'{"x": "' + b"y" * 300_000 + b'"}', query=ACC),
        400,
    ),
    Case("provision-not-object", "400 if malformed", st_none, lambda o, s: o.request("PUT", inst(s), [1, 2], ACC), 400),
    Case(
        "provision-bad-guid",
        "organization_guid MUST be a non-empty string",
        st_none,
        lambda o, s: o.provision(s["iid"], organization_guid=""),
        400,
    ),
    Case(
        "provision-stale-maintenance",
        "422 MaintenanceInfoConflict when maintenance_info.version differs",
        st_none,
        lambda o, s: o.provision(s["iid"], maintenance_info={"version": "0.9.0"}),
        422,
        "MaintenanceInfoConflict",
    ),
    Case(
        "provision-current-maintenance",
        "the catalog's maintenance_info is accepted",
        st_none,
        lambda o, s: o.provision(s["iid"], maintenance_info={"version": "1.0.0"}),
        202,
    ),
    Case(
        "provision-while-deprovisioning",
        "mutation while another operation runs: 422 ConcurrencyError",
        st_deprovisioning,
        lambda o, s: o.provision(s["iid"]),
        422,
        "ConcurrencyError",
    ),
    # -- last operation (instances) -------------------------------------------------------------------
    Case(
        "last-op-in-progress",
        "state in progress, with Retry-After",
        st_provisioning,
        lambda o, s: o.request("GET", inst(s) + "/last_operation", query={**o.ids(), "operation": s["op"]}),
        200,
        check=last_op_is("in progress", retry_after=True),
    ),
    Case(
        "last-op-succeeded",
        "state succeeded",
        st_ready,
        lambda o, s: o.request("GET", inst(s) + "/last_operation", query={"operation": s["op"]}),
        200,
        check=last_op_is("succeeded"),
    ),
    Case(
        "last-op-without-operation",
        "the last operation when none is named",
        st_updating,
        lambda o, s: o.request("GET", inst(s) + "/last_operation"),
        200,
        check=last_op_is("in progress", True),
    ),
    Case(
        "last-op-unknown-operation",
        "400 if malformed",
        st_ready,
        lambda o, s: o.request("GET", inst(s) + "/last_operation", query={"operation": "task_10"}),
        400,
    ),
    Case(
        "last-op-empty-operation",
        "operation, if present, MUST be a non-empty string",
        st_ready,
        lambda o, s: o.request("GET", inst(s) + "/last_operation", query={"operation": ""}),
        400,
    ),
    Case(
        "last-op-wrong-service",
        "service_id, if present, MUST be the offering's",
        st_ready,
        lambda o, s: o.request("GET", inst(s) + "/last_operation", query={"service_id": "nope"}),
        400,
    ),
    Case(
        "last-op-gone",
        "410 Gone after an asynchronous delete",
        st_deprovisioned,
        lambda o, s: o.request("GET", inst(s) + "/last_operation"),
        410,
        check=body_is({}),
    ),
    Case(
        "last-op-delete-succeeded",
        "polling the delete operation reports it succeeded",
        st_deprovisioned,
        lambda o, s: o.request("GET", inst(s) + "/last_operation", query={"operation": s["delete_op"]}),
        200,
        check=last_op_is("succeeded"),
    ),
    Case(
        "last-op-unknown-instance",
        "410 Gone for an instance the broker does not have",
        st_none,
        lambda o, s: o.request("GET", inst(s) + "/last_operation"),
        410,
    ),
    # -- fetch instance --------------------------------------------------------------------------
    Case(
        "get-instance",
        "200 with service_id, plan_id, parameters, maintenance_info",
        st_ready,
        lambda o, s: o.request("GET", inst(s)),
        200,
        check=lambda r, o, s: (
            (
                r.json()["service_id"] == o.service_id
                and r.json()["plan_id"] == o.plan_id()
                and r.json()["maintenance_info"] == {"version": "1.0.0"}
                and "admin_password" not in r.json()["parameters"]
                and r.json()["parameters"]["tag"] == "1.0"
            )
            or pytest.fail(r.content.decode())
        ),
    ),
    Case(
        "get-instance-provisioning",
        "404 if a provisioning operation is still in progress",
        st_provisioning,
        lambda o, s: o.request("GET", inst(s)),
        404,
    ),
    Case("get-instance-unknown", "404 if it does not exist", st_none, lambda o, s: o.request("GET", inst(s)), 404),
    Case(
        "get-instance-updating",
        "422 ConcurrencyError while it is being updated",
        st_updating,
        lambda o, s: o.request("GET", inst(s)),
        422,
        "ConcurrencyError",
    ),
    Case(
        "get-instance-deprovisioned", "404 once deleted", st_deprovisioned, lambda o, s: o.request("GET", inst(s)), 404
    ),
    # -- update ------------------------------------------------------------------------------------
    Case(
        "update-no-change",
        "200 {} if the request's changes have no effect",
        st_ready,
        lambda o, s: o.request("PATCH", inst(s), {"service_id": o.service_id}, ACC),
        200,
        check=body_is({}),
    ),
    Case(
        "update-async-required",
        "422 AsyncRequired without accepts_incomplete",
        st_ready,
        lambda o, s: o.request("PATCH", inst(s), o.ids("large")),
        422,
        "AsyncRequired",
    ),
    Case(
        "update-plan",
        "202 Accepted with an operation",
        st_ready,
        lambda o, s: o.request("PATCH", inst(s), o.ids("large"), ACC),
        202,
    ),
    Case(
        "update-parameters",
        "parameters change: 202",
        st_ready,
        lambda o, s: o.request("PATCH", inst(s), {"service_id": o.service_id, "parameters": {"tag": "1.1"}}, ACC),
        202,
    ),
    Case(
        "update-repeat",
        "a re-sent PATCH MUST return 202 with the same operation",
        st_updating,
        lambda o, s: o.request("PATCH", inst(s), o.ids("large"), ACC),
        202,
        check=op_is("update_op"),
    ),
    Case(
        "update-while-updating",
        "another change while one runs: 422 ConcurrencyError (never 409)",
        st_updating,
        lambda o, s: o.request("PATCH", inst(s), {"service_id": o.service_id, "parameters": {"tag": "3"}}, ACC),
        422,
        "ConcurrencyError",
    ),
    Case(
        "update-while-provisioning",
        "update never 409: 422 ConcurrencyError",
        st_provisioning,
        lambda o, s: o.request("PATCH", inst(s), o.ids("large"), ACC),
        422,
        "ConcurrencyError",
    ),
    Case(
        "update-stale-maintenance",
        "422 MaintenanceInfoConflict",
        st_ready,
        lambda o, s: o.request("PATCH", inst(s), {**o.ids(), "maintenance_info": {"version": "0.1.0"}}, ACC),
        422,
        "MaintenanceInfoConflict",
    ),
    Case(
        "update-bad-parameter",
        "400 with the field",
        st_ready,
        lambda o, s: o.request("PATCH", inst(s), {"service_id": o.service_id, "parameters": {"tag": "NO!"}}, ACC),
        400,
        check=mentions("tag"),
    ),
    Case(
        "update-unknown-plan",
        "plan_id MUST be a plan of the offering",
        st_ready,
        lambda o, s: o.request("PATCH", inst(s), {"service_id": o.service_id, "plan_id": "nope"}, ACC),
        400,
    ),
    Case(
        "update-missing-service-id",
        "service_id is REQUIRED",
        st_ready,
        lambda o, s: o.request("PATCH", inst(s), {"plan_id": o.plan_id("large")}, ACC),
        400,
    ),
    Case(
        "update-unknown-instance",
        "no such instance",
        st_none,
        lambda o, s: o.request("PATCH", inst(s), o.ids("large"), ACC),
        404,
    ),
    # -- deprovision -----------------------------------------------------------------------------
    Case(
        "delete-unknown",
        "410 Gone if it does not exist",
        st_none,
        lambda o, s: o.request("DELETE", inst(s), query={**o.ids(), **ACC}),
        410,
        check=body_is({}),
    ),
    Case(
        "delete-missing-ids",
        "service_id and plan_id are REQUIRED: 400",
        st_ready,
        lambda o, s: o.request("DELETE", inst(s), query=ACC),
        400,
    ),
    Case(
        "delete-async-required",
        "422 AsyncRequired without accepts_incomplete",
        st_ready,
        lambda o, s: o.request("DELETE", inst(s), query=o.ids()),
        422,
        "AsyncRequired",
    ),
    Case(
        "delete-accepted",
        "202 with an operation",
        st_ready,
        lambda o, s: o.request("DELETE", inst(s), query={**o.ids(), **ACC}),
        202,
    ),
    Case(
        "delete-repeat",
        "a re-sent DELETE MUST return 202 with the same operation",
        st_deprovisioning,
        lambda o, s: o.request("DELETE", inst(s), query={**o.ids(), **ACC}),
        202,
        check=op_is("delete_op"),
    ),
    Case(
        "delete-while-provisioning",
        "422 ConcurrencyError",
        st_provisioning,
        lambda o, s: o.request("DELETE", inst(s), query={**o.ids(), **ACC}),
        422,
        "ConcurrencyError",
    ),
    Case(
        "delete-after-delete",
        "410 Gone once deleted",
        st_deprovisioned,
        lambda o, s: o.request("DELETE", inst(s), query={**o.ids(), **ACC}),
        410,
    ),
    Case(
        "delete-wrong-plan",
        "plan_id MUST be the instance's",
        st_ready,
        lambda o, s: o.request("DELETE", inst(s), query={**o.ids("large"), **ACC}),
        400,
    ),
    # -- bind ------------------------------------------------------------------------------------
    Case(
        "bind-sync",
        "201 Created with the credentials",
        st_ready,
        lambda o, s: o.bind(s["iid"], s["bid"]),
        201,
        check=lambda r, o, s: set(r.json()["credentials"]) == {"host", "port", "uri", "password"} or pytest.fail(),
    ),
    Case(
        "bind-repeat",
        "200 OK if it exists and is identical",
        st_bound,
        lambda o, s: o.bind(s["iid"], s["bid"]),
        200,
        check=lambda r, o, s: r.json()["credentials"] == s["credentials"] or pytest.fail(),
    ),
    Case(
        "bind-conflict",
        "409 if it exists with different parameters",
        st_bound,
        lambda o, s: o.bind(s["iid"], s["bid"], bind_resource={"app_guid": "other-app"}),
        409,
    ),
    Case(
        "bind-async",
        "202 with an operation; credentials MUST NOT be in it",
        st_ready,
        lambda o, s: o.bind(s["iid"], s["bid"], accepts=True),
        202,
        check=lambda r, o, s: "credentials" not in r.json() or pytest.fail(),
    ),
    Case(
        "bind-repeat-in-progress",
        "a re-sent PUT MUST return 202 while in progress",
        st_binding,
        lambda o, s: o.bind(s["iid"], s["bid"], accepts=True),
        202,
        check=op_is("bind_op"),
    ),
    Case(
        "bind-while-provisioning",
        "422 ConcurrencyError",
        st_provisioning,
        lambda o, s: o.bind(s["iid"], s["bid"]),
        422,
        "ConcurrencyError",
    ),
    Case(
        "bind-while-updating",
        "422 ConcurrencyError",
        st_updating,
        lambda o, s: o.bind(s["iid"], s["bid"], plan="large"),
        422,
        "ConcurrencyError",
    ),
    Case(
        "bind-missing-plan",
        "plan_id is REQUIRED",
        st_ready,
        lambda o, s: o.request("PUT", bnd(s), {"service_id": o.service_id}),
        400,
    ),
    Case(
        "bind-wrong-plan",
        "plan_id MUST be the instance's",
        st_ready,
        lambda o, s: o.bind(s["iid"], s["bid"], plan="large"),
        400,
    ),
    Case(
        "bind-parameters",
        "no binding parameters are offered",
        st_ready,
        lambda o, s: o.bind(s["iid"], s["bid"], parameters={"x": 1}),
        400,
    ),
    # -- binding last operation / fetch ------------------------------------------------------------
    Case(
        "binding-last-op-in-progress",
        "in progress with Retry-After",
        st_binding,
        lambda o, s: o.request("GET", bnd(s) + "/last_operation", query={"operation": s["bind_op"]}),
        200,
        check=last_op_is("in progress", True),
    ),
    Case(
        "binding-last-op-unknown",
        "410 Gone for a binding it does not have",
        st_ready,
        lambda o, s: o.request("GET", bnd(s) + "/last_operation"),
        410,
    ),
    Case(
        "binding-last-op-bad-operation",
        "400 if malformed",
        st_bound,
        lambda o, s: o.request("GET", bnd(s) + "/last_operation", query={"operation": "x"}),
        400,
    ),
    Case(
        "get-binding",
        "200 with the credentials",
        st_bound,
        lambda o, s: o.request("GET", bnd(s)),
        200,
        check=lambda r, o, s: r.json()["credentials"] == s["credentials"] or pytest.fail(),
    ),
    Case(
        "get-binding-in-progress",
        "404 while the binding operation is in progress",
        st_binding,
        lambda o, s: o.request("GET", bnd(s)),
        404,
    ),
    Case("get-binding-unknown", "404 if it does not exist", st_ready, lambda o, s: o.request("GET", bnd(s)), 404),
    # -- unbind ------------------------------------------------------------------------------------
    Case(
        "unbind-sync",
        "200 {} when deleted by this request",
        st_bound,
        lambda o, s: o.request("DELETE", bnd(s), query=o.ids()),
        200,
        check=body_is({}),
    ),
    Case(
        "unbind-async",
        "202 with an operation",
        st_bound,
        lambda o, s: o.request("DELETE", bnd(s), query={**o.ids(), **ACC}),
        202,
    ),
    Case(
        "unbind-repeat",
        "a re-sent DELETE MUST return 202 while in progress",
        st_unbinding,
        lambda o, s: o.request("DELETE", bnd(s), query={**o.ids(), **ACC}),
        202,
        check=op_is("unbind_op"),
    ),
    Case(
        "unbind-unknown",
        "410 Gone if it does not exist",
        st_ready,
        lambda o, s: o.request("DELETE", bnd(s), query=o.ids()),
        410,
    ),
    Case(
        "unbind-missing-ids",
        "service_id and plan_id are REQUIRED",
        st_bound,
        lambda o, s: o.request("DELETE", bnd(s)),
        400,
    ),
    Case(
        "unbind-while-binding",
        "422 ConcurrencyError while it is being created",
        st_binding,
        lambda o, s: o.request("DELETE", bnd(s), query={**o.ids(), **ACC}),
        422,
        "ConcurrencyError",
    ),
    Case(
        "delete-with-bindings",
        "bindings are deleted first",
        st_bound,
        lambda o, s: o.request("DELETE", inst(s), query={**o.ids(), **ACC}),
        422,
    ),
]


# --- review against the spec v2.17 text: failures, context updates, ids with '/', headers -----------


def st_update_failed(osb: OSB, attempts: int = 1) -> dict:
    """An update that failed as the pipeline records it (operation failed; _finish_instance: instance failed)."""
    s = st_updating(osb)
    Operation.objects.filter(pk=s["update_op"]).update(
        state=Operation.State.FAILED, error="the template rejected the values", attempts=attempts, max_attempts=5
    )
    Instance.objects.filter(osb_instance_id=s["iid"]).update(state=Instance.State.FAILED)
    return s


def st_update_failed_transient(osb: OSB) -> dict:
    return st_update_failed(osb, attempts=5)


def st_delete_failed(osb: OSB) -> dict:
    s = st_deprovisioning(osb)
    Operation.objects.filter(pk=s["delete_op"]).update(state=Operation.State.FAILED, error="stuck finalizer")
    Instance.objects.filter(osb_instance_id=s["iid"]).update(state=Instance.State.FAILED)
    return s


def st_provision_failed(osb: OSB) -> dict:
    s = st_provisioning(osb)
    Operation.objects.filter(pk=s["op"]).update(state=Operation.State.FAILED, error="no capacity")
    Instance.objects.filter(osb_instance_id=s["iid"]).update(state=Instance.State.FAILED)
    return s


def st_slash_ready(osb: OSB) -> dict:
    s = {"iid": "org/space/" + new_id(), "bid": "app/" + new_id()}
    r = raw(osb, "PUT", s["iid"], body={**osb.ids(), "organization_guid": "o", "space_guid": "s"}, query=ACC)
    assert r.status_code == 202, r.content
    assert run(r.json()["operation"]).state == "succeeded"
    return s


def raw(osb: OSB, method: str, iid: str, tail: str = "", body=None, query: dict | None = None, **headers):
    """A request as gunicorn passes it on: ``RAW_URI`` keeps the ids percent-encoded (``/`` as ``%2F``)."""
    import json
    from urllib.parse import quote, urlencode

    path = "/osb/v2/service_instances/" + quote(iid, safe="") + tail
    qs = ("?" + urlencode(query)) if query else ""
    return osb.client.generic(
        method,
        path + qs,
        data=json.dumps(body) if body is not None else "",
        content_type="application/json",
        RAW_URI=path + qs,
        **osb.headers(**headers),
    )


def identity(platform: str, value) -> str:
    import base64
    import json

    return f"{platform} " + base64.b64encode(json.dumps(value).encode()).decode()


def flags_are(**expected):
    def check(r, osb, s):
        body = r.json()
        for key in ("instance_usable", "update_repeatable"):
            if key in expected:
                assert body.get(key) is expected[key], body
            else:
                assert key not in body, body

    return check


def catalog_offering(check_offering):
    def check(r, osb, s):
        (offering,) = [o for o in r.json()["services"] if o["id"] == osb.service_id]
        check_offering(offering) or None

    return check


def _assert_offering(o):
    assert o["allow_context_updates"] is True, o
    assert o["instances_retrievable"] is True and o["bindings_retrievable"] is True, o
    assert o["plan_updateable"] is True and o["bindable"] is True, o
    for key in ("id", "name", "description"):
        assert isinstance(o[key], str) and o[key], o
    for plan in o["plans"]:
        assert plan["id"] and plan["name"] and plan["description"] and plan["free"] in (True, False), plan
        schema = plan["schemas"]["service_instance"]["create"]["parameters"]
        assert isinstance(schema["$schema"], str), plan
        assert plan["maintenance_info"]["version"] == "1.0.0"


CASES += [
    # last_operation: instance_usable / update_repeatable
    Case(
        "last-op-update-failed-flags",
        "instance_usable: 'If an update or deprovisioning operation failed, this flag indicates whether or not"
        " the Service Instance is still usable'; update_repeatable: 'If an update operation failed, this flag"
        " indicates whether this update can be repeated or not'",
        st_update_failed,
        lambda o, s: o.request("GET", inst(s) + "/last_operation", query={"operation": s["update_op"]}),
        200,
        check=lambda r, o, s: (
            last_op_is("failed")(r, o, s),
            flags_are(instance_usable=False, update_repeatable=False)(r, o, s),
        ),
    ),
    Case(
        "last-op-update-failed-transient",
        "update_repeatable: 'If true, the same update operation MAY be repeated and MAY succeed'",
        st_update_failed_transient,
        lambda o, s: o.request("GET", inst(s) + "/last_operation", query={"operation": s["update_op"]}),
        200,
        check=flags_are(instance_usable=False, update_repeatable=True),
    ),
    Case(
        "last-op-delete-failed-flags",
        "instance_usable for a failed deprovision; update_repeatable 'MUST NOT be present for errors of other"
        " operations'",
        st_delete_failed,
        lambda o, s: o.request("GET", inst(s) + "/last_operation", query={"operation": s["delete_op"]}),
        200,
        check=flags_are(instance_usable=False),
    ),
    Case(
        "last-op-provision-failed-no-flags",
        "both flags 'MUST NOT be present for errors of other operations' (provision)",
        st_provision_failed,
        lambda o, s: o.request("GET", inst(s) + "/last_operation", query={"operation": s["op"]}),
        200,
        check=lambda r, o, s: (last_op_is("failed")(r, o, s), flags_are()(r, o, s)),
    ),
    Case(
        "last-op-succeeded-no-flags",
        "the flags describe failed operations only",
        st_ready,
        lambda o, s: o.request("GET", inst(s) + "/last_operation", query={"operation": s["op"]}),
        200,
        check=flags_are(),
    ),
    Case(
        "get-instance-provision-failed",
        "GET instance: '404 Not Found: MUST be returned if the Service Instance does not exist'",
        st_provision_failed,
        lambda o, s: o.request("GET", inst(s)),
        404,
    ),
    # error bodies of update / deprovision
    Case(
        "update-error-flags",
        "error body: instance_usable / update_repeatable for a failed update (the same bad update fails again)",
        st_ready,
        lambda o, s: o.request("PATCH", inst(s), {"service_id": o.service_id, "parameters": {"tag": "NO!"}}, ACC),
        400,
        check=flags_are(instance_usable=True, update_repeatable=False),
    ),
    Case(
        "update-async-required-flags",
        "422 AsyncRequired on update: instance still usable, the same request fails again",
        st_ready,
        lambda o, s: o.request("PATCH", inst(s), o.ids("large")),
        422,
        "AsyncRequired",
        check=flags_are(instance_usable=True, update_repeatable=False),
    ),
    Case(
        "delete-error-flags",
        "error body of a failed deprovision: instance_usable; update_repeatable MUST NOT be present",
        st_ready,
        lambda o, s: o.request("DELETE", inst(s), query=o.ids()),
        422,
        "AsyncRequired",
        check=flags_are(instance_usable=True),
    ),
    Case(
        "provision-error-no-flags",
        "instance_usable / update_repeatable 'MUST NOT be present for errors of other operations'",
        st_ready,
        lambda o, s: o.provision(s["iid"], plan="large"),
        409,
        check=flags_are(),
    ),
    # query parameters
    Case(
        "delete-missing-plan-id",
        "DELETE: 'plan_id* ... REQUIRED': 400",
        st_ready,
        lambda o, s: o.request("DELETE", inst(s), query={"service_id": o.service_id, **ACC}),
        400,
    ),
    Case(
        "delete-missing-ids-unknown-instance",
        "DELETE: service_id and plan_id are REQUIRED (400 before 410)",
        st_none,
        lambda o, s: o.request("DELETE", inst(s), query=ACC),
        400,
    ),
    Case(
        "unbind-missing-service-id",
        "unbind: 'service_id* ... REQUIRED': 400",
        st_bound,
        lambda o, s: o.request("DELETE", bnd(s), query={"plan_id": o.plan_id()}),
        400,
    ),
    Case(
        "get-instance-empty-service-id",
        "GET instance: service_id 'If present, MUST be a non-empty string'",
        st_ready,
        lambda o, s: o.request("GET", inst(s), query={"service_id": ""}),
        400,
    ),
    Case(
        "get-binding-empty-plan-id",
        "GET binding: plan_id 'If present, MUST be a non-empty string'",
        st_bound,
        lambda o, s: o.request("GET", bnd(s), query={"plan_id": ""}),
        400,
    ),
    Case(
        "get-instance-with-ids",
        "GET instance with the hints service_id/plan_id: 200 with service_id, plan_id, maintenance_info, metadata",
        st_ready,
        lambda o, s: o.request("GET", inst(s), query=o.ids()),
        200,
        check=lambda r, o, s: (
            set(r.json()) >= {"service_id", "plan_id", "parameters", "maintenance_info", "metadata"}
            or pytest.fail(r.content.decode())
        ),
    ),
    Case(
        "get-binding-body",
        "GET binding: credentials and parameters",
        st_bound,
        lambda o, s: o.request("GET", bnd(s), query=o.ids()),
        200,
        check=lambda r, o, s: r.json() == {"credentials": s["credentials"], "parameters": {}} or pytest.fail(),
    ),
    # context updates (allow_context_updates: true)
    Case(
        "catalog-fields",
        "offering: name*, id*, description*, bindable*, plans*; plan: id*, name*, description*; $schema MUST be"
        " present; allow_context_updates declared",
        st_none,
        lambda o, s: o.request("GET", "catalog"),
        200,
        check=catalog_offering(_assert_offering),
    ),
    Case(
        "update-context-only",
        "'To enable support for Platforms to send an update request for a Service Instance containing only"
        " contextual data, a Service Broker MUST declare support by including allow_context_updates: true'",
        st_ready,
        lambda o, s: o.request(
            "PATCH",
            inst(s),
            {"service_id": o.service_id, "context": {"platform": "cloudfoundry", "instance_name": "x"}},
        ),
        200,
        check=lambda r, o, s: (
            r.json() == {}
            and Instance.objects.get(osb_instance_id=s["iid"]).osb_context["instance_name"] == "x"
            or pytest.fail()
        ),
    ),
    # originating identity
    Case(
        "identity-not-base64-json",
        "'value MUST be a Base64 encoded string. The string MUST be a serialized JSON object': 400 if malformed",
        st_none,
        lambda o, s: o.provision(s["iid"], headers={"X-Broker-API-Originating-Identity": "cloudfoundry not-base64"}),
        400,
    ),
    Case(
        "identity-not-object",
        "'The string MUST be a serialized JSON object'",
        st_none,
        lambda o, s: o.request("GET", "catalog", **{"X-Broker-API-Originating-Identity": identity("cf", [1])}),
        400,
    ),
    Case(
        "identity-no-platform",
        "'Platform MUST be a non-empty string'",
        st_none,
        lambda o, s: o.request("GET", "catalog", **{"X-Broker-API-Originating-Identity": identity("", {"u": 1})}),
        400,
    ),
    Case(
        "identity-platform-mismatch",
        "'When context is sent as part of a message, this value MUST be the same as the context.platform value'",
        st_none,
        lambda o, s: o.provision(
            s["iid"], headers={"X-Broker-API-Originating-Identity": identity("kubernetes", {"username": "a"})}
        ),
        400,
    ),
    Case(
        "identity-ok",
        "a well-formed header is accepted",
        st_none,
        lambda o, s: o.provision(
            s["iid"], headers={"X-Broker-API-Originating-Identity": identity("cloudfoundry", {"user_id": "u"})}
        ),
        202,
    ),
    # ids with reserved characters
    Case(
        "slash-id-provision-raw",
        "URL Properties: 'this specification places no restriction on the set of characters'; '/' sent as %2F",
        st_none,
        lambda o, s: raw(
            o, "PUT", "a/b/" + s["iid"], body={**o.ids(), "organization_guid": "o", "space_guid": "s"}, query=ACC
        ),
        202,
    ),
    Case(
        "slash-id-last-operation-raw",
        "last_operation of an id holding '/'",
        st_slash_ready,
        lambda o, s: raw(o, "GET", s["iid"], "/last_operation"),
        200,
        check=last_op_is("succeeded"),
    ),
    Case(
        "slash-id-bind-raw",
        "bind to an instance and with a binding id holding '/'",
        st_slash_ready,
        lambda o, s: raw(o, "PUT", s["iid"], "/service_bindings/" + quote_id(s["bid"]), body={**o.ids()}),
        201,
    ),
    Case(
        "slash-id-get-raw",
        "GET an instance whose id holds '/'",
        st_slash_ready,
        lambda o, s: raw(o, "GET", s["iid"]),
        200,
    ),
    Case(
        "slash-id-decoded-unambiguous",
        "without the raw URI, an id holding '/' works where the path has a single reading",
        st_slash_ready,
        lambda o, s: o.request("GET", inst(s) + "/last_operation"),
        200,
        check=last_op_is("succeeded"),
    ),
    Case(
        "slash-id-decoded-ambiguous",
        "400 if the request is malformed: two '/service_bindings/' readings of a decoded path",
        st_none,
        lambda o, s: o.request("GET", "service_instances/a/service_bindings/b/service_bindings/c"),
        400,
    ),
    Case(
        "id-too-long",
        "ids longer than the broker stores: 400, never a 500",
        st_none,
        lambda o, s: o.provision("x" * 256),
        400,
    ),
]


# --- the marketplace: paid plans ----------------------------------------------------------------------


def st_paid(osb: OSB) -> dict:
    """Another org sells an OSB-enabled type (small and large paid, hobby free); this platform's org has
    bought nothing. ``s["paid"]`` speaks about that type."""
    s = st_none(osb)
    s["listing"] = sell_type()
    s["paid"] = for_type(osb, s["listing"].service_type)
    return s


def st_paid_unlisted(osb: OSB) -> dict:
    s = st_paid(osb)
    unlist_listing(actor=s["listing"].admin, listing=s["listing"])
    return s


def st_paid_entitled(osb: OSB) -> dict:
    s = st_paid(osb)
    s["entitlement"] = buy(_platform_org(osb), s["listing"], "small")
    return s


def st_paid_entitlement_used(osb: OSB) -> dict:
    s = st_paid_entitled(osb)
    r = s["paid"].provision(new_id())
    assert r.status_code == 202, r.content
    return s


def _platform_org(osb: OSB):
    from osbapi.models import PlatformCredential

    return PlatformCredential.objects.get(username=osb.username).org


def plans_free(**expected: bool):
    """The catalog's ``free`` per plan name of the sold type; the platform org's own type stays free."""

    def check(r, osb, s):
        services = {o["name"]: o for o in r.json()["services"]}
        sold = services[s["listing"].service_type.slug]
        assert {p["name"]: p["free"] for p in sold["plans"]} == expected, sold["plans"]
        assert all(p["free"] is True for p in services[osb.type.slug]["plans"])

    return check


def refused_for_payment(r, osb, s):
    body = r.json()
    assert "error" not in body, body  # the spec defines no error code for it: see osbapi.services
    assert set(body) == {"description"}, body  # instance_usable / update_repeatable: not for provisioning
    listing = s["listing"]
    assert f"{listing.get_absolute_url()}?plan=small" in body["description"], body
    assert "20.00 USD/month" in body["description"] and f"sbay buy {listing.slug} small" in body["description"]
    assert not Instance.objects.filter(osb_instance_id=s["iid"]).exists()


FREE = "free: 'When false, Service Instances of this Service Plan have a cost. The default is true.'"
CASES += [
    Case(
        "catalog-free-paid-plans",
        FREE + " — a non-free price of a listed marketplace listing sold by another org",
        st_paid,
        lambda o, s: o.request("GET", "catalog"),
        200,
        check=plans_free(small=False, large=False, hobby=True),
    ),
    Case(
        "catalog-free-unlisted",
        FREE + " — an unlisted listing sells nothing: its plans are free",
        st_paid_unlisted,
        lambda o, s: o.request("GET", "catalog"),
        200,
        check=plans_free(small=True, large=True, hobby=True),
    ),
    Case(
        "provision-paid-not-bought",
        "Service Broker Errors: 'an appropriate HTTP response code (chosen to accurately reflect the nature of"
        " the failure) and a body containing a valid JSON Object'; description: 'A user-facing error message"
        " explaining why the request failed' — 422 (the request is well-formed; the org has no purchase), no"
        " error code (the spec defines none for it)",
        st_paid,
        lambda o, s: s["paid"].provision(s["iid"]),
        422,
        check=refused_for_payment,
    ),
    Case(
        "provision-paid-entitlement-used",
        "as provision-paid-not-bought: the org's one purchase of the plan is used by a live instance",
        st_paid_entitlement_used,
        lambda o, s: s["paid"].provision(s["iid"]),
        422,
        check=refused_for_payment,
    ),
    Case(
        "provision-paid-bought",
        "202 Accepted: 'Service Instance provisioning is in progress' — once the org has bought the plan",
        st_paid_entitled,
        lambda o, s: s["paid"].provision(s["iid"]),
        202,
        check=lambda r, o, s: (
            Instance.objects.get(osb_instance_id=s["iid"]).plan.slug == "small" or pytest.fail(r.content.decode())
        ),
    ),
    Case(
        "provision-free-plan-of-listing",
        "a free plan (hobby, price 0) of a listing needs no purchase",
        st_paid,
        lambda o, s: s["paid"].provision(s["iid"], plan="hobby"),
        202,
    ),
]


def quote_id(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _snapshot() -> tuple:
    return (
        list(Instance.objects.order_by("pk").values_list("pk", "state", "plan_id", "parameters", "version_id")),
        list(Binding.objects.order_by("pk").values_list("pk", "state")),
        Operation.objects.count(),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_conformance(case: Case, osb, cluster):
    state = case.state(osb)
    before = _snapshot()
    response = case.call(osb, state)
    assert response.status_code == case.status, f"{case.spec}: {response.status_code} {response.content[:500]!r}"
    if response.status_code != 304:
        assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict)
    if case.error is not None:
        assert body.get("error") == case.error, body
    if response.status_code >= 400:
        if response.status_code != 410:  # 410 Gone is a success for the platform: body {}
            assert isinstance(body.get("description"), str) and body["description"], body
        assert _snapshot() == before, "a 4xx must leave the broker's resources unchanged"
    if case.check is not None:
        case.check(response, osb, state)
