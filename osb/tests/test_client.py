"""BrokerClient against a real HTTP broker on 127.0.0.1 that answers what each test scripts (faults too)."""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid

import pytest

from osb import errors
from osb.client import BrokerClient, basic, bearer, originating_identity_header, poll
from osb.models import OperationState
from osb.orphans import needs_orphan_mitigation
from osb.tests.fault_broker import Reply

INSTANCE = "/v2/service_instances/i-1"
BINDING = INSTANCE + "/service_bindings/b-1"
SVC, PLAN = "svc-1", "plan-small"

CATALOG = {
    "services": [
        {
            "id": SVC,
            "name": "postgres",
            "description": "PostgreSQL databases",
            "bindable": True,
            "instances_retrievable": True,
            "plan_updateable": True,
            "tags": ["sql"],
            "plans": [
                {
                    "id": PLAN,
                    "name": "small",
                    "description": "5 connections",
                    "maintenance_info": {"version": "15.0.0", "description": "PostgreSQL 15"},
                    "maximum_polling_duration": 600,
                    "schemas": {
                        "service_instance": {
                            "create": {
                                "parameters": {
                                    "$schema": "http://json-schema.org/draft-04/schema#",
                                    "type": "object",
                                    "properties": {"encoding": {"type": "string"}},
                                }
                            }
                        }
                    },
                },
                {"id": "plan-large", "name": "large", "description": "20", "free": False, "bindable": False},
            ],
        }
    ]
}


def provision(client, **kw):
    return client.provision("i-1", service_id=SVC, plan_id=PLAN, **kw)


def bind(client, **kw):
    return client.bind("i-1", "b-1", service_id=SVC, plan_id=PLAN, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- headers ---------------------------------------------------------------------------------


def test_every_request_carries_version_request_identity_and_auth(client, fault_broker):
    fault_broker.reply("GET", "/v2/catalog", 200, CATALOG)
    catalog = client.catalog()
    sent = fault_broker.last()
    assert sent.headers["X-Broker-API-Version"] == "2.17"
    assert sent.headers["X-Broker-API-Request-Identity"] == catalog.request_id
    uuid.UUID(catalog.request_id)  # a fresh UUID per call
    assert "X-Broker-API-Originating-Identity" not in sent.headers  # nobody asked: the platform did
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"platform:secret").decode()
    assert client.catalog().request_id != catalog.request_id
    assert client.catalog(request_id="trace-42").request_id == "trace-42"
    assert fault_broker.last().headers["X-Broker-API-Request-Identity"] == "trace-42"


def test_bearer_auth(fault_broker):
    fault_broker.reply("GET", "/v2/catalog", 200, CATALOG)
    with BrokerClient(fault_broker.url, auth=bearer("t0ken"), timeout=2) as client:
        client.catalog()
    assert fault_broker.last().headers["Authorization"] == "Bearer t0ken"


def test_originating_identity_is_platform_and_base64_json(client, fault_broker):
    fault_broker.reply("PUT", INSTANCE, 201, {})
    provision(client, identity={"user_id": "42", "username": "alice"}, context={"namespace": "chat"})
    sent = fault_broker.last()
    platform, value = sent.headers["X-Broker-API-Originating-Identity"].split(" ")
    assert platform == "servicebay" == sent.body["context"]["platform"]  # the spec: they MUST match
    assert json.loads(base64.b64decode(value)) == {"user_id": "42", "username": "alice"}
    assert originating_identity_header("cloudfoundry", {"user_id": "x"}).startswith("cloudfoundry ")


# --- catalog ---------------------------------------------------------------------------------


def test_catalog_is_parsed_into_typed_shapes(client, fault_broker):
    fault_broker.reply("GET", "/v2/catalog", 200, CATALOG, headers={"ETag": '"v1"'})
    catalog = client.catalog()
    service = catalog.service(SVC)
    small, large = service.plans
    assert (service.name, service.bindable, service.instances_retrievable, service.bindings_retrievable) == (
        "postgres",
        True,
        True,
        False,
    )
    assert small.maintenance_info.version == "15.0.0" and small.maximum_polling_duration == 600
    assert small.schemas.service_instance_create["properties"] == {"encoding": {"type": "string"}}
    assert small.schemas.service_binding_create is None
    assert small.free and not large.free
    assert service.plan_is_bindable(small) and not service.plan_is_bindable(large)
    assert service.plan_is_updateable(small)
    assert catalog.find_plan("plan-large") == (service, large)
    assert catalog.etag == '"v1"'
    assert type(catalog).from_json(catalog.to_json()).services == catalog.services


def test_catalog_not_modified_with_etag(client, fault_broker):
    fault_broker.reply("GET", "/v2/catalog", 304, b"")
    assert client.catalog(etag='"v1"') is None
    assert fault_broker.last().headers["If-None-Match"] == '"v1"'


def test_malformed_catalog_lists_every_problem(client, fault_broker):
    broken = json.loads(json.dumps(CATALOG))
    del broken["services"][0]["bindable"]
    broken["services"][0]["plans"][0]["maintenance_info"] = {"version": "fifteen"}
    broken["services"][0]["plans"][1]["id"] = ""
    fault_broker.reply("GET", "/v2/catalog", 200, broken)
    with pytest.raises(errors.MalformedResponse) as caught:
        client.catalog()
    assert caught.value.status == 200
    assert caught.value.problems == [
        "services[0].bindable: is required",
        "services[0].plans[0].maintenance_info.version: must be a semantic version, not 'fifteen'",
        "services[0].plans[1].id: must be a non-empty string",
    ]


@pytest.mark.parametrize(
    ("status", "body", "exc"),
    [
        (200, b"<html>oops</html>", errors.MalformedResponse),
        (200, [1, 2], errors.MalformedResponse),
        (401, {}, errors.Unauthorized),
        (412, {"description": "Service broker requires version 2.18+."}, errors.PreconditionFailed),
        (500, b"Internal Server Error", errors.ServerError),
    ],
)
def test_catalog_failures(client, fault_broker, status, body, exc):
    fault_broker.reply("GET", "/v2/catalog", status, body)
    with pytest.raises(exc) as caught:
        client.catalog()
    assert caught.value.request_id == fault_broker.last().headers["X-Broker-API-Request-Identity"]


# --- provision ---------------------------------------------------------------------------------


def test_provision_sends_the_spec_body(client, fault_broker):
    fault_broker.reply("PUT", INSTANCE, 202, {"operation": "task-1", "dashboard_url": "http://dash/1"})
    result = provision(
        client,
        parameters={"encoding": "UTF8"},
        maintenance_info="15.0.0",
        organization_guid="org-1",
        space_guid="team-1",
    )
    assert result.accepted and result.operation == "task-1" and result.dashboard_url == "http://dash/1"
    sent = fault_broker.last()
    assert sent.query == {"accepts_incomplete": "true"}
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.body == {
        "service_id": SVC,
        "plan_id": PLAN,
        "context": {"platform": "servicebay"},
        "organization_guid": "org-1",
        "space_guid": "team-1",
        "parameters": {"encoding": "UTF8"},
        "maintenance_info": {"version": "15.0.0"},
    }
    provision(client, accepts_incomplete=False, context={"organization_guid": "o", "space_guid": "s"})
    sent = fault_broker.last()
    assert sent.query == {}
    assert (sent.body["organization_guid"], sent.body["space_guid"]) == ("o", "s")
    assert "parameters" not in sent.body and "maintenance_info" not in sent.body


@pytest.mark.parametrize(
    ("status", "body", "created", "existed", "accepted"),
    [(201, {}, True, False, False), (200, {"dashboard_url": None}, False, True, False), (202, {}, False, False, True)],
)
def test_provision_success_statuses(client, fault_broker, status, body, created, existed, accepted):
    fault_broker.reply("PUT", INSTANCE, status, body)
    result = provision(client)
    assert (result.status == 201, result.already_existed, result.accepted) == (created, existed, accepted)
    assert not needs_orphan_mitigation("provision", result.status)


# Every failure branch of provision and bind, and what the orphan mitigation table says about it.
FAILURES = [
    # (reply, exception, orphan mitigation?)
    (Reply(400, {"description": "plan_id missing"}), errors.BadRequest, False),
    (Reply(409, {}), errors.Conflict, False),  # openbrokerapi answers 409 with {}
    (Reply(422, {"error": "AsyncRequired", "description": "async only"}), errors.AsyncRequired, False),
    (Reply(422, {"error": "ConcurrencyError"}), errors.ConcurrencyError, False),
    (Reply(422, {"error": "MaintenanceInfoConflict"}), errors.MaintenanceInfoConflict, False),
    (Reply(422, {"error": "RequiresApp"}), errors.RequiresApp, False),
    (Reply(422, {"description": "quota"}), errors.UnprocessableEntity, False),
    (Reply(408, b""), errors.RequestTimeout, False),
    (Reply(404, b"no such route"), errors.NotFound, False),
    (Reply(500, {"description": "database exploded"}), errors.ServerError, True),
    (Reply(503, b"<html>bad gateway</html>"), errors.ServerError, True),
    (Reply(204, b""), errors.UnexpectedStatus, True),  # "all other 2xx"
    (Reply(302, b"", headers={"Location": "/elsewhere"}), errors.UnexpectedStatus, True),
    (Reply(201, b"{not json"), errors.MalformedResponse, True),  # 201 with a malformed body
    (Reply(201, {"operation": 7, "credentials": []}), errors.MalformedResponse, True),
    (Reply(200, b"[]"), errors.MalformedResponse, False),  # 200 with a malformed body
    (Reply(202, {"operation": "x" * 10_001}), errors.MalformedResponse, False),
    (Reply(201, {}, delay=5), errors.BrokerTimeout, True),  # hangs past the 0.5 s read timeout
    (Reply(201, {}, drop=True), errors.BrokerTimeout, True),  # connection closed, no answer
]


@pytest.mark.parametrize(("reply", "exc", "mitigate"), FAILURES, ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("request_kind", ["provision", "bind"])
def test_create_failures_and_orphan_mitigation(client, fault_broker, request_kind, reply, exc, mitigate):
    path, call = (INSTANCE, provision) if request_kind == "provision" else (BINDING, bind)
    fault_broker.sequence("PUT", path, [reply])
    started = time.monotonic()
    with pytest.raises(exc) as caught:
        call(client, timeout=0.5)
    assert time.monotonic() - started < 3  # timeouts really bound the call
    assert type(caught.value) is exc
    assert caught.value.request_id == fault_broker.last().headers["X-Broker-API-Request-Identity"]
    assert caught.value.endpoint == request_kind
    assert needs_orphan_mitigation(request_kind, error=caught.value) is mitigate


def test_error_body_fields_reach_the_exception(client, fault_broker):
    fault_broker.reply("PUT", INSTANCE, 422, {"error": "MaintenanceInfoConflict", "description": "now 15.1.0"})
    with pytest.raises(errors.MaintenanceInfoConflict) as caught:
        provision(client, maintenance_info="15.0.0")
    assert (caught.value.status, caught.value.error, caught.value.description) == (
        422,
        "MaintenanceInfoConflict",
        "now 15.1.0",
    )
    assert "now 15.1.0" in str(caught.value)


def test_unreachable_broker_needs_no_mitigation():
    with (
        BrokerClient(f"http://127.0.0.1:{free_port()}", timeout=1) as client,
        pytest.raises(errors.BrokerUnreachable) as caught,
    ):
        provision(client)
    assert not caught.value.sent
    assert not needs_orphan_mitigation("provision", error=caught.value)


# --- update ------------------------------------------------------------------------------------


def test_update_sends_only_what_changes(client, fault_broker):
    fault_broker.reply("PATCH", INSTANCE, 202, {"operation": "upd-1"})
    result = client.update(
        "i-1",
        service_id=SVC,
        plan_id="plan-large",
        previous_values={"plan_id": PLAN, "maintenance_info": "15.0.0"},
        maintenance_info={"version": "15.1.0"},
    )
    assert result.accepted and result.operation == "upd-1"
    assert fault_broker.last().body == {
        "service_id": SVC,
        "plan_id": "plan-large",
        "context": {"platform": "servicebay"},
        "previous_values": {"plan_id": PLAN, "maintenance_info": {"version": "15.0.0"}},
        "maintenance_info": {"version": "15.1.0"},
    }
    fault_broker.reply("PATCH", INSTANCE, 200, {})
    assert client.update("i-1", service_id=SVC, parameters={"x": 1}).status == 200
    assert "plan_id" not in fault_broker.last().body


@pytest.mark.parametrize(
    ("reply", "exc"),
    [
        (Reply(422, {"error": "ConcurrencyError"}), errors.ConcurrencyError),
        (Reply(422, {"description": "cannot downgrade"}), errors.UnprocessableEntity),
        (Reply(500, {"description": "x", "instance_usable": False, "update_repeatable": False}), errors.ServerError),
        (Reply(201, {}), errors.UnexpectedStatus),
        (Reply(200, {}, delay=5), errors.BrokerTimeout),
    ],
)
def test_update_failures_never_need_orphan_mitigation(client, fault_broker, reply, exc):
    fault_broker.sequence("PATCH", INSTANCE, [reply])
    with pytest.raises(exc) as caught:
        client.update("i-1", service_id=SVC, plan_id="plan-large", timeout=0.5)
    assert not needs_orphan_mitigation("update", error=caught.value)
    if reply.status == 500:
        assert (caught.value.instance_usable, caught.value.update_repeatable) == (False, False)


# --- deprovision / unbind ----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "body"), [(200, {}), (202, {"operation": "del-1"}), (410, {}), (410, b"")])
def test_deprovision_successes_include_gone(client, fault_broker, status, body):
    fault_broker.reply("DELETE", INSTANCE, status, body)
    result = client.deprovision("i-1", service_id=SVC, plan_id=PLAN)
    assert (result.status, result.gone, result.accepted) == (status, status == 410, status == 202)
    assert fault_broker.last().query == {"service_id": SVC, "plan_id": PLAN, "accepts_incomplete": "true"}


@pytest.mark.parametrize(
    ("reply", "exc", "mitigate"),
    [
        (Reply(422, {"error": "ConcurrencyError"}), errors.ConcurrencyError, False),
        (Reply(422, {"error": "AsyncRequired"}), errors.AsyncRequired, False),
        (Reply(400, {}), errors.BadRequest, False),
        (Reply(500, {}), errors.ServerError, True),  # retry the delete (orphan mitigation for instances)
        (Reply(200, b"gone!"), errors.MalformedResponse, False),
        (Reply(200, {}, delay=5), errors.BrokerTimeout, False),  # only provision/bind timeouts mitigate
    ],
)
@pytest.mark.parametrize("request_kind", ["deprovision", "unbind"])
def test_delete_failures(client, fault_broker, request_kind, reply, exc, mitigate):
    if request_kind == "deprovision":
        fault_broker.sequence("DELETE", INSTANCE, [reply])
        call = lambda: client.deprovision("i-1", service_id=SVC, plan_id=PLAN, timeout=0.5)  # noqa: E731
    else:
        fault_broker.sequence("DELETE", BINDING, [reply])
        call = lambda: client.unbind("i-1", "b-1", service_id=SVC, plan_id=PLAN, timeout=0.5)  # noqa: E731
    with pytest.raises(exc) as caught:
        call()
    assert needs_orphan_mitigation(request_kind, error=caught.value) is mitigate


def test_unbind_statuses(client, fault_broker):
    fault_broker.sequence("DELETE", BINDING, [Reply(200, {}), Reply(202, {"operation": "u1"}), Reply(410, {})])
    assert client.unbind("i-1", "b-1", service_id=SVC, plan_id=PLAN).status == 200
    assert client.unbind("i-1", "b-1", service_id=SVC, plan_id=PLAN).operation == "u1"
    assert client.unbind("i-1", "b-1", service_id=SVC, plan_id=PLAN, accepts_incomplete=False).gone
    assert fault_broker.last().query == {"service_id": SVC, "plan_id": PLAN}


# --- last_operation and polling ----------------------------------------------------------------


def test_last_operation_reads_state_and_retry_after(client, fault_broker):
    path = INSTANCE + "/last_operation"
    fault_broker.reply("GET", path, 200, {"state": "in progress", "description": "10%"}, headers={"Retry-After": "3"})
    op = client.last_operation("i-1", service_id=SVC, plan_id=PLAN, operation="task 1/2")
    assert (op.state, op.description, op.retry_after, op.retry_after_header) == (
        OperationState.IN_PROGRESS,
        "10%",
        3.0,
        "3",
    )
    assert fault_broker.last().query == {"service_id": SVC, "plan_id": PLAN, "operation": "task 1/2"}
    failed = {"state": "failed", "description": "", "instance_usable": False, "update_repeatable": True}
    fault_broker.reply("GET", path, 200, failed)
    op = client.last_operation("i-1")
    assert op.failed and op.instance_usable is False and op.update_repeatable is True and op.description == ""
    assert fault_broker.last().query == {}


@pytest.mark.parametrize(
    ("reply", "exc"),
    [
        (Reply(200, {"state": "done"}), errors.MalformedResponse),
        (Reply(200, {"description": "no state"}), errors.MalformedResponse),
        (Reply(410, {}), errors.Gone),
        (Reply(400, {}), errors.BadRequest),
        (Reply(500, {}), errors.ServerError),
    ],
)
def test_last_operation_failures(client, fault_broker, reply, exc):
    fault_broker.sequence("GET", BINDING + "/last_operation", [reply])
    with pytest.raises(exc):
        client.binding_last_operation("i-1", "b-1")


def test_async_provision_polled_until_failed_needs_orphan_mitigation(client, fault_broker):
    fault_broker.reply("PUT", INSTANCE, 202, {"operation": "prov-9"})
    fault_broker.sequence(
        "GET",
        INSTANCE + "/last_operation",
        [
            Reply(200, {"state": "in progress"}, headers={"Retry-After": "0"}),
            Reply(500, {}),  # a hiccup: the spec says keep polling
            Reply(200, b"garbage"),
            Reply(200, {"state": "failed", "description": "out of disk"}),
        ],
    )
    accepted = provision(client)
    seen = []
    op = client.poll_last_operation(
        "i-1", service_id=SVC, plan_id=PLAN, operation=accepted.operation, interval=0.01, on_poll=seen.append
    )
    assert op.failed and op.description == "out of disk"
    assert [o.state.value for o in seen] == ["in progress", "failed"]
    assert all(r.query.get("operation") == "prov-9" for r in fault_broker.requests if r.method == "GET")
    assert needs_orphan_mitigation("provision", state=op.state)
    assert not needs_orphan_mitigation("update", state=op.state)


def test_polling_a_delete_ends_with_gone(client, fault_broker):
    fault_broker.sequence("GET", INSTANCE + "/last_operation", [Reply(200, {"state": "in progress"}), Reply(410, {})])
    op = client.poll_last_operation("i-1", deleting=True, interval=0.01)
    assert op.succeeded


def test_gone_while_polling_a_create_is_not_success(client, fault_broker):
    fault_broker.sequence("GET", BINDING + "/last_operation", [Reply(410, {}), Reply(200, {"state": "succeeded"})])
    assert client.poll_binding_last_operation("i-1", "b-1", interval=0.01).succeeded
    assert len(fault_broker.requests) == 2


def test_polling_gives_up_at_the_maximum_duration(client, fault_broker):
    fault_broker.reply(
        "GET", INSTANCE + "/last_operation", 200, {"state": "in progress"}, headers={"Retry-After": "60"}
    )
    started = time.monotonic()
    with pytest.raises(errors.PollingTimeout) as caught:
        client.poll_last_operation("i-1", max_duration=0.3, interval=0.05)
    assert 0.25 < time.monotonic() - started < 2  # Retry-After is capped by the deadline
    assert needs_orphan_mitigation("provision", error=caught.value)  # "MUST be considered failed"
    assert not needs_orphan_mitigation("update", error=caught.value)


def test_polling_stops_on_a_request_that_cannot_succeed(client, fault_broker):
    fault_broker.reply("GET", INSTANCE + "/last_operation", 400, {"description": "which instance?"})
    with pytest.raises(errors.BadRequest):
        client.poll_last_operation("i-1", interval=0.01)
    assert len(fault_broker.requests) == 1


def test_poll_with_injected_clock_and_sleep():
    now = [0.0]
    answers = iter([errors.BrokerTimeout("slow"), errors.ServerError(), None])

    def fetch():
        answer = next(answers)
        if answer is None:
            from osb.models import LastOperation

            return LastOperation(state=OperationState.SUCCEEDED)
        raise answer

    def sleep(seconds):
        now[0] += seconds

    assert poll(fetch, deleting=False, max_duration=100, interval=7, sleep=sleep, clock=lambda: now[0]).succeeded
    assert now[0] == 14


# --- bindings ----------------------------------------------------------------------------------


def test_bind_returns_credentials_endpoints_and_hides_them_in_repr(client, fault_broker):
    body = {
        "credentials": {"uri": "postgresql://u:s3cret@db:5432/d", "password": "s3cret"},
        "endpoints": [{"host": "db", "ports": ["5432", "9000-9010"]}],
        "volume_mounts": [
            {
                "driver": "nfs",
                "container_dir": "/data",
                "mode": "rw",
                "device_type": "shared",
                "device": {"volume_id": "v1", "mount_config": {"k": "v"}},
            }
        ],
        "metadata": {"expires_at": "2030-01-01T00:00:00Z"},
        "syslog_drain_url": "syslog://logs:514",
    }
    fault_broker.reply("PUT", BINDING, 201, body)
    result = bind(client, bind_resource={"app_guid": "app-1"}, parameters={"role": "ro"}, context={"namespace": "n"})
    assert result.credentials["password"] == "s3cret"
    assert "s3cret" not in repr(result)
    assert result.endpoints[0].ports == ("5432", "9000-9010") and result.endpoints[0].protocol == "tcp"
    assert result.volume_mounts[0].volume_id == "v1" and result.metadata.expires_at == "2030-01-01T00:00:00Z"
    assert result.to_json() == {**body, "endpoints": [{**body["endpoints"][0], "protocol": "tcp"}]}
    sent = fault_broker.last().body
    assert sent["app_guid"] == sent["bind_resource"]["app_guid"] == "app-1"
    assert sent["context"] == {"namespace": "n", "platform": "servicebay"}


def test_async_bind_then_fetch_the_binding(client, fault_broker):
    fault_broker.reply("PUT", BINDING, 202, {"operation": "bind-7", "credentials": {"leak": "ignored"}})
    fault_broker.reply("GET", BINDING + "/last_operation", 200, {"state": "succeeded"})
    fault_broker.reply("GET", BINDING, 200, {"credentials": {"user": "u"}, "parameters": {"role": "ro"}})
    accepted = bind(client)
    assert accepted.accepted and accepted.operation == "bind-7" and accepted.credentials == {}
    assert client.poll_binding_last_operation("i-1", "b-1", operation="bind-7").succeeded
    details = client.get_binding("i-1", "b-1", service_id=SVC, plan_id=PLAN)
    assert details.credentials == {"user": "u"} and details.parameters == {"role": "ro"}
    assert fault_broker.last().query == {"service_id": SVC, "plan_id": PLAN}


def test_malformed_binding_shapes(client, fault_broker):
    fault_broker.reply(
        "PUT", BINDING, 201, {"credentials": "u:p", "endpoints": [{"host": "h", "ports": [5432]}, {"ports": []}]}
    )
    with pytest.raises(errors.MalformedResponse) as caught:
        bind(client)
    assert caught.value.problems == [
        "credentials: must be a JSON object, not a string",
        "endpoints[0].ports[0]: 5432 is not a port or a port range (a string)",
        "endpoints[1].ports: must not be empty",
        "endpoints[1].host: is required",
    ]
    assert needs_orphan_mitigation("bind", error=caught.value)


# --- fetching ----------------------------------------------------------------------------------


def test_get_instance(client, fault_broker):
    fault_broker.sequence(
        "GET",
        INSTANCE,
        [
            Reply(
                200,
                {"service_id": SVC, "plan_id": PLAN, "parameters": {"a": 1}, "maintenance_info": {"version": "1.0.0"}},
            ),
            Reply(404, {}),
            Reply(422, {"error": "ConcurrencyError"}),
        ],
    )
    details = client.get_instance("i-1")
    assert (details.plan_id, details.parameters, details.maintenance_info.version) == (PLAN, {"a": 1}, "1.0.0")
    with pytest.raises(errors.NotFound):
        client.get_instance("i-1")
    with pytest.raises(errors.ConcurrencyError):
        client.get_instance("i-1")


def test_ids_are_percent_encoded(client, fault_broker):
    fault_broker.reply("GET", "/v2/service_instances/a%2Fb%20c", 404, {})
    with pytest.raises(errors.NotFound):
        client.get_instance("a/b c")
    with pytest.raises(ValueError):
        client.get_instance("")


def test_basic_helper_and_url_check():
    assert basic("u", "p") is not None
    with pytest.raises(ValueError):
        BrokerClient("broker.example")
