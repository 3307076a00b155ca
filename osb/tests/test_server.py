"""The broker-side helpers of the OSB library (osb.server): headers and request bodies per the spec."""

from __future__ import annotations

import base64
import json

import pytest

from osb import server
from osb.errors import ShapeError


@pytest.mark.parametrize(
    ("header", "ok"),
    [("2.17", True), ("2.14", True), ("2.99", True), (" 2.15 ", True), (None, False), ("", False), ("2.13", False),
     ("1.99", False), ("3.0", False), ("2", False), ("2.17.1", False), ("two.seventeen", False)],
)  # fmt: skip
def test_api_version(header, ok):
    assert (server.check_api_version(header) is None) == ok


def test_basic_auth():
    good = "Basic " + base64.b64encode(b"cf:s3cr:et").decode()
    assert server.parse_basic_auth(good) == ("cf", "s3cr:et")
    for bad in (None, "", "Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode(), "Basic"):
        assert server.parse_basic_auth(bad) is None


def test_originating_identity():
    value = base64.b64encode(json.dumps({"user_id": "683ea748"}).encode()).decode()
    assert server.parse_originating_identity(f"cloudfoundry {value}") == {
        "platform": "cloudfoundry",
        "value": {"user_id": "683ea748"},
    }
    assert server.parse_originating_identity("kubernetes not-base64")["raw"] == "kubernetes not-base64"
    assert server.parse_originating_identity(None) is None


def test_provision_request_lists_every_defect():
    with pytest.raises(ShapeError) as caught:
        server.ProvisionRequest.from_json(
            {"plan_id": "", "parameters": [], "maintenance_info": {"version": "v1"}, "space_guid": 3}
        )
    problems = "; ".join(caught.value.problems)
    for field in ("service_id", "plan_id", "parameters", "maintenance_info.version", "space_guid"):
        assert field in problems
    with pytest.raises(ShapeError):
        server.ProvisionRequest.from_json(["not", "an", "object"])


def test_identical_requests_have_the_same_digest():
    a = server.ProvisionRequest.from_json({"service_id": "s", "plan_id": "p", "parameters": {"a": 1, "b": 2}})
    b = server.ProvisionRequest.from_json({"plan_id": "p", "service_id": "s", "parameters": {"b": 2, "a": 1}})
    c = server.ProvisionRequest.from_json({"service_id": "s", "plan_id": "p2", "parameters": {"a": 1, "b": 2}})
    assert server.digest(a.attributes()) == server.digest(b.attributes()) != server.digest(c.attributes())


def test_bind_and_update_requests():
    bind = server.BindRequest.from_json({"service_id": "s", "plan_id": "p", "bind_resource": {"app_guid": "app"}})
    assert bind.app_guid == "app"
    update = server.UpdateRequest.from_json({"service_id": "s", "previous_values": {"plan_id": "old"}})
    assert update.plan_id is None and update.parameters is None and update.previous_plan_id == "old"
    with pytest.raises(ShapeError):
        server.UpdateRequest.from_json({"plan_id": "p"})


def test_last_operation_body_and_operation_parameter():
    assert server.last_operation_body("in progress", "Applying") == {"state": "in progress", "description": "Applying"}
    with pytest.raises(ValueError):
        server.last_operation_body("done")
    assert server.check_operation(None) is None and server.check_operation("op") == "op"
    with pytest.raises(ShapeError):
        server.check_operation("x" * 10_001)


def test_originating_identity_format():
    good = "cloudfoundry " + base64.b64encode(json.dumps({"user_id": "u"}).encode()).decode()
    assert server.check_originating_identity(None) is None
    assert server.check_originating_identity(good) is None
    assert server.check_originating_identity(good, {"platform": "cloudfoundry"}) is None
    assert server.check_originating_identity(good, {"platform": "kubernetes"})  # MUST equal context.platform
    for bad in ("cloudfoundry", "cloudfoundry not-base64", "cf " + base64.b64encode(b"[1]").decode(), "a b c"):
        assert server.check_originating_identity(bad), bad


def test_last_operation_flags_only_on_failure():
    failed = server.last_operation_body("failed", "x", instance_usable=False, update_repeatable=True)
    assert failed == {"state": "failed", "description": "x", "instance_usable": False, "update_repeatable": True}
    assert server.last_operation_body("succeeded", instance_usable=True) == {"state": "succeeded"}


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("abc", ("instance", {"instance_id": "abc"})),
        ("a%2Fb", ("instance", {"instance_id": "a/b"})),
        ("a%2Fb/last_operation", ("instance_last_operation", {"instance_id": "a/b"})),
        ("a/service_bindings/b%2Fc", ("binding", {"instance_id": "a", "binding_id": "b/c"})),
        ("a/service_bindings/b/last_operation", ("binding_last_operation", {"instance_id": "a", "binding_id": "b"})),
        ("a/b", None),
        ("a//last_operation", None),
        ("%FF", None),
    ],
)
def test_split_instances_path(raw, expected):
    assert server.split_instances_path(raw) == expected


@pytest.mark.parametrize(
    "path, expected",
    [
        ("abc", ("instance", {"instance_id": "abc"})),
        ("a/b", ("instance", {"instance_id": "a/b"})),
        ("a/b/last_operation", ("instance_last_operation", {"instance_id": "a/b"})),
        ("a/b/service_bindings/c/d", ("binding", {"instance_id": "a/b", "binding_id": "c/d"})),
        ("a/service_bindings/b/last_operation", ("binding_last_operation", {"instance_id": "a", "binding_id": "b"})),
        ("a/service_bindings/b/service_bindings/c", str),
        ("a/", None),
    ],
)
def test_resolve_decoded_instances_path(path, expected):
    found = server.resolve_instances_path(path)
    assert isinstance(found, str) if expected is str else found == expected
