"""Shape validation of OSB documents and the broker-side error bodies (no network)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from osb import errors
from osb.models import (
    Catalog,
    Endpoint,
    LastOperation,
    MaintenanceInfo,
    OperationState,
    Plan,
    ProvisionResponse,
    Schemas,
    ServiceOffering,
    _parse,
    parse_retry_after,
)

SEMVER_PROBLEM = "maintenance_info.version: must be a semantic version, not '1.2'"


def plan(**extra):
    return {"id": "p1", "name": "small", "description": "Small", **extra}


def offering(**extra):
    return {"id": "s1", "name": "pg", "description": "PostgreSQL", "bindable": True, "plans": [plan()], **extra}


def problems(parse, data):
    with pytest.raises(errors.ShapeError) as caught:
        parse(data)
    return caught.value.problems


def test_plan_defaults_and_round_trip():
    p = Plan.from_json(plan())
    assert (p.free, p.bindable, p.plan_updateable, p.binding_rotatable, p.maintenance_info) == (
        True,
        None,
        None,
        False,
        None,
    )
    full = plan(
        free=False,
        bindable=False,
        plan_updateable=True,
        binding_rotatable=True,
        maximum_polling_duration=60,
        maintenance_info={"version": "1.2.3-rc.1+build.5"},
        metadata={"bullets": ["x"]},
    )
    assert Plan.from_json(full).to_json() == full


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": "small"}, ["id: is required", "description: is required"]),
        (plan(free="yes"), ["free: must be a boolean, not a string"]),
        (plan(maximum_polling_duration=0), ["maximum_polling_duration: must be at least 1"]),
        (plan(maximum_polling_duration=True), ["maximum_polling_duration: must be an integer, not a boolean"]),
        (plan(maintenance_info={}), ["maintenance_info.version: is required"]),
        (
            plan(maintenance_info={"version": "1.2"}),
            ["maintenance_info.version: must be a semantic version, not '1.2'"],
        ),
        ("plan", ["(body): must be a JSON object, not a string"]),
    ],
)
def test_plan_problems(data, expected):
    assert problems(Plan.from_json, data) == expected


def test_schemas_rules():
    good = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "$defs": {"a": {}}}
    schemas = Schemas.from_json(
        {
            "service_instance": {"create": {"parameters": good}, "update": {"parameters": good}},
            "service_binding": {"create": {"parameters": {**good, "properties": {"x": {"$ref": "#/$defs/a"}}}}},
        }
    )
    assert schemas.service_instance_update == good
    assert Schemas.from_json(schemas.to_json()) == schemas
    bad = {"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}}
    assert problems(Schemas.from_json, {"service_instance": {"create": {"parameters": bad}}}) == [
        "service_instance.create.parameters: the $schema key must be present (a JSON Schema version URI)",
        "service_instance.create.parameters: must not contain external references ($ref 'https://example.com/x.json')",
    ]
    huge = {"$schema": "x", "description": "x" * 70_000}
    assert problems(Schemas.from_json, {"service_binding": {"create": {"parameters": huge}}}) == [
        "service_binding.create.parameters: must not be larger than 64kB"
    ]


def test_offering_rules():
    assert problems(ServiceOffering.from_json, offering(plans=[])) == ["plans: must not be empty"]
    assert problems(ServiceOffering.from_json, offering(plans=[plan(), plan(id="p2")])) == [
        "plans[1].name: 'small' is not unique within the offering"
    ]
    assert problems(ServiceOffering.from_json, offering(tags=["ok", ""])) == ["tags[1]: must be a non-empty string"]


def test_catalog_uniqueness():
    twice = offering(id="s2", plans=[plan(id="p1", name="other")])
    assert problems(Catalog.from_json, {"services": [offering(), twice]}) == [
        "services[1].name: 'pg' is not unique in the catalog",
        "services[1].plans[0].id: 'p1' is not unique in the catalog",
    ]
    assert problems(Catalog.from_json, {}) == ["services: is required"]
    assert Catalog.from_json({"services": []}).services == ()  # MAY be empty


def test_last_operation_and_retry_after():
    op = LastOperation.from_json({"state": "succeeded", "description": None}, retry_after_header="5")
    assert op.state is OperationState.SUCCEEDED and op.retry_after == 5.0 and op.done
    assert LastOperation.from_json({"state": "in progress"}).to_json() == {"state": "in progress"}
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", clock=lambda: 1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_provision_response_operation_length():
    assert ProvisionResponse.from_json({"operation": None, "dashboard_url": None}, status=202).operation is None
    assert problems(ProvisionResponse.from_json, {"operation": "x" * 10_001}) == [
        "operation: must not be longer than 10000 characters"
    ]
    assert problems(ProvisionResponse.from_json, {"operation": ""}) == ["operation: must be a non-empty string"]
    metadata = {"labels": {"team": "chat"}, "attributes": {"region": "eu"}}
    assert ProvisionResponse.from_json({"metadata": metadata}).metadata.labels == {"team": "chat"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"host": "h", "ports": ["0"]}, ["ports[0]: '0' is not a port or a port range (a string)"]),
        ({"host": "h", "ports": ["90-80"]}, ["ports[0]: '90-80' is not a port or a port range (a string)"]),
        ({"host": "h", "ports": ["80"], "protocol": "sctp"}, ["protocol: must be 'tcp', 'udp' or 'all', not 'sctp'"]),
        ({"host": "h"}, ["ports: is required"]),
    ],
)
def test_endpoint_problems(data, expected):
    assert problems(lambda d: _parse(Endpoint._read, d, "endpoint"), data) == expected


def test_maintenance_info_round_trip():
    info = MaintenanceInfo.from_json({"version": "15.0.0", "description": "PostgreSQL 15"})
    assert info.to_json() == {"version": "15.0.0", "description": "PostgreSQL 15"}


# --- errors ------------------------------------------------------------------------------------


def test_error_bodies_for_the_broker_side():
    assert errors.async_required_body()["error"] == "AsyncRequired"
    assert errors.concurrency_error_body("busy") == {"error": "ConcurrencyError", "description": "busy"}
    assert errors.maintenance_info_conflict_body()["error"] == "MaintenanceInfoConflict"
    assert errors.requires_app_body()["error"] == "RequiresApp"
    assert errors.error_body("QuotaExceeded", "too big", instance_usable=True, update_repeatable=False) == {
        "error": "QuotaExceeded",
        "description": "too big",
        "instance_usable": True,
        "update_repeatable": False,
    }
    assert errors.error_body(description="only words") == {"description": "only words"}
    for bad in ("two words", "", "snake_case"):
        with pytest.raises(ValueError):
            errors.error_body(bad)
    with pytest.raises(ValueError):
        errors.error_body(description="")
    assert errors.error_response(errors.ConcurrencyError("wait")) == (
        422,
        {"error": "ConcurrencyError", "description": "wait"},
    )
    assert errors.error_response(errors.Gone()) == (410, {})


def test_error_classes_by_status_and_code():
    assert errors.error_class(422, "ConcurrencyError") is errors.ConcurrencyError
    assert errors.error_class(422, "Unknown") is errors.UnprocessableEntity
    assert errors.error_class(418) is errors.UnexpectedStatus
    assert errors.error_class(502) is errors.ServerError
    assert errors.error_class(409) is errors.Conflict
    assert issubclass(errors.AsyncRequired, errors.BrokerError)
    assert set(errors.ERROR_CODES) == {"AsyncRequired", "ConcurrencyError", "RequiresApp", "MaintenanceInfoConflict"}
    assert errors.parse_error_body({"error": 5, "description": "d", "instance_usable": "no"}) == {
        "error": None,
        "description": "d",
        "instance_usable": None,
        "update_repeatable": None,
    }


def test_osb_imports_no_django():
    """The protocol library is plain Python: importing all of it pulls in no Django."""
    code = (
        "import sys, osb, osb.client, osb.models, osb.errors, osb.orphans; "
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2], timeout=60)
    for source in Path(__file__).resolve().parents[1].glob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+django", source.read_text(), re.M), source
