"""The broker engine against a misbehaving broker, through Servicebay: every branch of error handling and
orphan mitigation, driven through the real services and operation handlers (``run``), the broker being the
fault-injecting HTTP broker of ``osb/tests/fault_broker.py`` on 127.0.0.1, registered as a Servicebay broker.

Each test also shows that the operation ends in a terminal state (succeeded or failed, never left pending or
in progress) and names the row of the spec's orphan-mitigation table (OSB API, "Orphan Mitigation") it
exercises.
"""

from __future__ import annotations

import base64
import time

import pytest
from django.utils import timezone

from catalog import brokers
from catalog.models import Plan, ServiceType
from instances import services
from instances.models import Binding, Instance
from instances.tests.conftest import run
from instances.tests.test_instances import consumer
from osb.tests.fault_broker import FaultBroker, Reply
from portal import operations
from portal.models import Notification, Operation, OperationStep

SERVICE_ID, PLAN_ID = "fault-service", "fault-plan-small"
MAX_POLLING = 3  # the plan's maximum_polling_duration, seconds


def catalog(maintenance_version: str = "1.0.0") -> dict:
    return {
        "services": [
            {
                "id": SERVICE_ID,
                "name": "faulty",
                "description": "A broker that fails on request",
                "bindable": True,
                "instances_retrievable": True,
                "bindings_retrievable": True,
                "plan_updateable": True,
                "plans": [
                    {
                        "id": PLAN_ID,
                        "name": "small",
                        "description": "Small",
                        "maintenance_info": {"version": maintenance_version},
                        "maximum_polling_duration": MAX_POLLING,
                    }
                ],
            }
        ]
    }


@pytest.fixture
def fault():
    broker = FaultBroker().start()
    broker.reply("GET", "/v2/catalog", 200, catalog())
    yield broker
    broker.stop()


@pytest.fixture
def faulty(owner, org, team, fault):
    """The fault broker registered and synced: → (its type, its plan)."""
    broker, op = brokers.register_broker(
        actor=owner, org=org, name="fb", url=fault.url, auth_kind="basic", username="platform", secret="pw"
    )
    assert run(op.pk).state == "succeeded"
    type_ = ServiceType.objects.get(broker=broker)
    return type_, Plan.objects.get(type=type_, broker_plan_id=PLAN_ID)


def instance_path(instance) -> str:
    return f"/v2/service_instances/{instance.pk}"


def binding_path(binding) -> str:
    return f"/v2/service_instances/{binding.instance_id}/service_bindings/{binding.pk}"


def run_to_end(op_id, max_attempts: int | None = None) -> Operation:
    """Run an operation like the worker would, retries included (their backoff skipped), to its end."""
    if max_attempts is not None:
        Operation.objects.filter(pk=op_id).update(max_attempts=max_attempts)
    for _ in range(20):
        op = run(op_id)
        if op.state in ("succeeded", "failed", "cancelled"):
            return op
        assert op.state == "pending"  # RetryLater: queued again with a backoff
        Operation.objects.filter(pk=op_id).update(not_before=timezone.now())
    raise AssertionError(f"operation {op_id} never ended")


def steps(op) -> list[str]:
    return list(OperationStep.objects.filter(operation_id=op.pk).order_by("pk").values_list("message", flat=True))


def calls(fault, method: str, path: str) -> list:
    return [r for r in fault.requests if r.method == method and r.path == path]


def provision(owner, org, faulty, name="f1"):
    type_, plan = faulty
    instance, op = services.provision_instance(actor=owner, org=org, service_type=type_, name=name, plan=plan)
    return instance, op


def ready_instance(org, faulty, name="ready") -> Instance:
    type_, plan = faulty
    return Instance.objects.create(
        org=org, name=name, type=type_, version=type_.versions.get(), plan=plan, state="ready"
    )


def assert_nothing_in_progress():
    left = Operation.objects.filter(state__in=["pending", "in_progress"]).values_list("kind", "state")
    assert not left, f"left unfinished: {list(left)}"


# --- provision ------------------------------------------------------------------------------


def test_provision_500_mitigates_with_a_delete_and_gives_up(owner, org, faulty, fault):
    """Row "Provisioning / 5xx → orphan mitigation for Service Instances: Yes"."""
    instance, op = provision(owner, org, faulty)
    fault.reply("PUT", instance_path(instance), 500, {"description": "disk on fire"})
    fault.reply("DELETE", instance_path(instance), 200, {})
    done = run_to_end(op.pk, max_attempts=2)
    assert done.state == "failed" and done.error.startswith("Gave up after 2 attempts: The broker did not provision")
    assert "disk on fire" in done.error
    deletes = calls(fault, "DELETE", instance_path(instance))
    assert len(deletes) == 2  # one mitigation per failed attempt
    assert deletes[0].query["service_id"] == SERVICE_ID and deletes[0].query["plan_id"] == PLAN_ID
    assert any(s.startswith("Orphan mitigation: asking the broker to delete") for s in steps(op))
    instance.refresh_from_db()
    assert instance.state == "failed" and "disk on fire" in instance.status_message
    assert_nothing_in_progress()


def test_provision_timeout_mitigates_with_a_delete(owner, org, faulty, fault, settings):
    """Row "Provisioning / Timeout → Service Instances: Yes"."""
    settings.BROKER_TIMEOUT_SECONDS = 0.5
    instance, op = provision(owner, org, faulty)
    fault.reply("PUT", instance_path(instance), 201, {}, delay=3)
    fault.reply("DELETE", instance_path(instance), 200, {})
    done = run_to_end(op.pk)
    assert done.state == "failed" and "no answer from the broker in time" in done.error
    assert len(calls(fault, "DELETE", instance_path(instance))) == 1
    assert Instance.objects.get(pk=instance.pk).state == "failed"
    assert_nothing_in_progress()


def test_provision_201_with_a_malformed_body_mitigates(owner, org, faulty, fault):
    """Row "Provisioning / 201 with malformed response → Service Instances: Yes"."""
    instance, op = provision(owner, org, faulty)
    fault.reply("PUT", instance_path(instance), 201, b"{not json")
    fault.reply("DELETE", instance_path(instance), 200, {})
    done = run_to_end(op.pk)
    assert done.state == "failed" and "without a JSON body" in done.error
    assert len(calls(fault, "DELETE", instance_path(instance))) == 1
    assert_nothing_in_progress()


def test_provision_200_with_a_malformed_body_fails_without_mitigation(owner, org, faulty, fault):
    """Row "All / 200 with malformed response → Failure, no orphan mitigation"."""
    instance, op = provision(owner, org, faulty)
    fault.reply("PUT", instance_path(instance), 200, b"<html>oops</html>")
    done = run_to_end(op.pk)
    assert done.state == "failed"
    assert calls(fault, "DELETE", instance_path(instance)) == []
    assert_nothing_in_progress()


def test_provision_concurrency_error_retries_later_then_succeeds(owner, org, faulty, fault):
    """422 ConcurrencyError: "another operation is in progress" — retry later, never mitigate ("All other 4xx")."""
    instance, op = provision(owner, org, faulty)
    busy = Reply(422, {"error": "ConcurrencyError", "description": "busy"})
    fault.sequence("PUT", instance_path(instance), [busy, Reply(201, {})])
    first = run(op.pk)
    assert first.state == "pending" and first.not_before > timezone.now()  # retried later, with a backoff
    assert any("The broker did not provision now" in s and "retrying in" in s for s in steps(op))
    done = run_to_end(op.pk)
    assert done.state == "succeeded", done.error
    assert Instance.objects.get(pk=instance.pk).state == "ready"
    assert calls(fault, "DELETE", instance_path(instance)) == []
    assert_nothing_in_progress()


def test_concurrency_error_that_never_ends_is_terminal(owner, org, faulty, fault):
    instance = ready_instance(org, faulty)
    fault.reply("DELETE", instance_path(instance), 422, {"error": "ConcurrencyError", "description": "busy"})
    op = services.deprovision_instance(actor=owner, instance=instance)
    done = run_to_end(op.pk, max_attempts=3)
    assert done.state == "failed" and done.error.startswith("Gave up after 3 attempts")
    assert len(calls(fault, "DELETE", instance_path(instance))) == 3
    assert Instance.objects.get(pk=instance.pk).state == "failed"
    assert_nothing_in_progress()


def test_maintenance_info_conflict_resyncs_the_catalog_and_tells_the_user(owner, org, faulty, fault):
    _, plan = faulty
    instance, op = provision(owner, org, faulty)
    fault.reply("GET", "/v2/catalog", 200, catalog("2.0.0"))  # the vendor upgraded meanwhile
    conflict = {"error": "MaintenanceInfoConflict", "description": "maintenance_info.version 1.0.0 is outdated"}
    fault.reply("PUT", instance_path(instance), 422, conflict)
    done = run_to_end(op.pk)
    assert done.state == "failed"
    assert "maintenance_info is out of date" in done.error and "The catalog was resynced" in done.error
    assert Plan.objects.get(pk=plan.pk).maintenance_info == {"version": "2.0.0"}
    assert calls(fault, "DELETE", instance_path(instance)) == []  # a 4xx: the broker did nothing
    told = Notification.objects.get(user=owner, level="danger")
    assert "failed" in told.title and "The catalog was resynced" in told.body
    assert_nothing_in_progress()


def test_failed_last_operation_fails_with_the_description_and_mitigates(owner, org, faulty, fault):
    """Row "last_operation for Provisioning / 200 with state failed → Service Instances: Yes"."""
    instance, op = provision(owner, org, faulty)
    fault.reply("PUT", instance_path(instance), 202, {"operation": "op-1"})
    fault.sequence(
        "GET",
        instance_path(instance) + "/last_operation",
        [
            Reply(200, {"state": "in progress"}, headers={"Retry-After": "0"}),
            Reply(200, {"state": "failed", "description": "the pool is out of disks"}),
        ],
    )
    fault.reply("DELETE", instance_path(instance), 200, {})
    done = run_to_end(op.pk)
    assert done.state == "failed" and done.error == "The broker's provision failed: the pool is out of disks"
    polls = calls(fault, "GET", instance_path(instance) + "/last_operation")
    assert len(polls) == 2 and polls[0].query["operation"] == "op-1"
    assert len(calls(fault, "DELETE", instance_path(instance))) == 1
    instance.refresh_from_db()
    assert instance.state == "failed" and "out of disks" in instance.status_message
    assert_nothing_in_progress()


def test_polling_stops_at_the_plans_maximum_polling_duration(owner, org, faulty, fault):
    """The plan says ``maximum_polling_duration: 3``: the spec says the operation MUST then be considered failed."""
    instance, op = provision(owner, org, faulty)
    fault.reply("PUT", instance_path(instance), 202, {"operation": "forever"})
    fault.reply("GET", instance_path(instance) + "/last_operation", 200, {"state": "in progress"})
    fault.reply("DELETE", instance_path(instance), 200, {})
    started = time.monotonic()
    done = run_to_end(op.pk)
    took = time.monotonic() - started
    assert done.state == "failed" and f"did not finish within {MAX_POLLING}s" in done.error
    assert MAX_POLLING <= took < MAX_POLLING + 5  # not the platform's hour
    assert len(calls(fault, "DELETE", instance_path(instance))) == 1  # considered failed → mitigated
    assert Instance.objects.get(pk=instance.pk).state == "failed"
    assert_nothing_in_progress()


# --- deprovision ----------------------------------------------------------------------------


def test_deprovision_410_is_a_success(owner, org, faulty, fault):
    instance = ready_instance(org, faulty)
    fault.reply("DELETE", instance_path(instance), 410, {})
    op = services.deprovision_instance(actor=owner, instance=instance)
    done = run_to_end(op.pk)
    assert done.state == "succeeded", done.error
    assert "The broker no longer has the instance (410): nothing to delete" in steps(op)
    assert Instance.objects.get(pk=instance.pk).state == "deprovisioned"
    assert_nothing_in_progress()


def test_async_deprovision_ends_with_410_on_last_operation(owner, org, faulty, fault):
    instance = ready_instance(org, faulty)
    fault.reply("DELETE", instance_path(instance), 202, {"operation": "del-1"})
    fault.reply("GET", instance_path(instance) + "/last_operation", 410, {})
    op = services.deprovision_instance(actor=owner, instance=instance)
    done = run_to_end(op.pk)
    assert done.state == "succeeded", done.error
    assert Instance.objects.get(pk=instance.pk).state == "deprovisioned"
    assert_nothing_in_progress()


# --- bind / unbind --------------------------------------------------------------------------


@pytest.fixture
def app(cluster, kube, kube_namespace):
    consumer(kube, kube_namespace)
    return kube_namespace


def test_async_bind_polls_then_fetches_the_binding_and_unbind_410_succeeds(owner, org, faulty, fault, app, kube):
    instance = ready_instance(org, faulty)
    binding, op = services.bind_instance(actor=owner, instance=instance, app="deployment/consumer")
    fault.reply("PUT", binding_path(binding), 202, {"operation": "bind-1"})
    fault.sequence(
        "GET",
        binding_path(binding) + "/last_operation",
        [Reply(200, {"state": "in progress"}, headers={"Retry-After": "0"}), Reply(200, {"state": "succeeded"})],
    )
    fetched = {
        "credentials": {"uri": "amqp://u:secret-pw@10.0.0.9:5672/v", "username": "u", "password": "secret-pw"},
        "endpoints": [{"host": "10.0.0.9", "ports": ["5672"], "protocol": "tcp"}],
        "syslog_drain_url": "syslog://logs.example:514",
    }
    fault.reply("GET", binding_path(binding), 200, fetched)
    done = run_to_end(op.pk)
    assert done.state == "succeeded", done.error
    polls = calls(fault, "GET", binding_path(binding) + "/last_operation")
    assert len(polls) == 2 and polls[0].query["operation"] == "bind-1"
    assert "The broker is binding asynchronously; polling the binding's last_operation" in steps(op)
    binding.refresh_from_db()
    assert binding.state == "ready" and binding.broker_details["syslog_drain_url"] == "syslog://logs.example:514"
    assert binding.broker_details["endpoints"][0]["host"] == "10.0.0.9"
    secret = kube.get("v1", "Secret", binding.secret_name, app)
    assert base64.b64decode(secret["data"]["uri"]).decode() == fetched["credentials"]["uri"]
    assert not any("secret-pw" in s for s in steps(op))

    fault.reply("DELETE", binding_path(binding), 410, {})
    op = services.unbind(actor=owner, binding=binding)
    done = run_to_end(op.pk)
    assert done.state == "succeeded", done.error
    assert "The broker no longer has the binding (410)" in steps(op)
    assert Binding.objects.get(pk=binding.pk).state == "deleted"
    assert kube.get_or_none("v1", "Secret", binding.secret_name, app) is None
    assert_nothing_in_progress()


@pytest.mark.parametrize(
    "row, reply",
    [
        ("Binding / 5xx → Service Bindings: Yes", Reply(500, {"description": "boom"})),
        ("Binding / 201 with malformed response → Service Bindings: Yes", Reply(201, b"[]")),
        ("Binding / Timeout → Service Bindings: Yes", Reply(201, {"credentials": {}}, delay=3)),
    ],
    ids=["5xx", "201-malformed", "timeout"],
)
def test_failed_bind_mitigates_by_unbinding(row, reply, owner, org, faulty, fault, app, settings):
    settings.BROKER_TIMEOUT_SECONDS = 0.5
    instance = ready_instance(org, faulty)
    binding, op = services.bind_instance(actor=owner, instance=instance, app="deployment/consumer")
    fault.sequence("PUT", binding_path(binding), [reply])
    fault.reply("DELETE", binding_path(binding), 200, {})
    done = run_to_end(op.pk, max_attempts=1)
    assert done.state == "failed", row
    deletes = calls(fault, "DELETE", binding_path(binding))
    assert len(deletes) == 1 and deletes[0].query["service_id"] == SERVICE_ID, row
    assert "Orphan mitigation: asking the broker to delete the half-made binding" in steps(op)
    assert Binding.objects.get(pk=binding.pk).state == "failed"
    assert_nothing_in_progress()


def test_failed_async_bind_mitigates_and_fails_with_the_description(owner, org, faulty, fault, app):
    """Row "last_operation for Binding / 200 with state failed → Service Bindings: Yes"."""
    instance = ready_instance(org, faulty)
    binding, op = services.bind_instance(actor=owner, instance=instance, app="deployment/consumer")
    fault.reply("PUT", binding_path(binding), 202, {"operation": "bind-2"})
    fault.reply("GET", binding_path(binding) + "/last_operation", 200, {"state": "failed", "description": "no room"})
    fault.reply("DELETE", binding_path(binding), 200, {})
    done = run_to_end(op.pk)
    assert done.state == "failed" and done.error == "The broker's bind failed: no room"
    assert len(calls(fault, "DELETE", binding_path(binding))) == 1
    assert Binding.objects.get(pk=binding.pk).state == "failed"
    assert_nothing_in_progress()


def test_sync_of_a_broker_answering_garbage_fails_clearly(owner, org, team, fault):
    fault.reply("GET", "/v2/catalog", 200, b"{broken")
    broker, op = brokers.register_broker(actor=owner, org=org, name="fb", url=fault.url, username="u", secret="p")
    operations.execute(op.pk)
    done = Operation.objects.get(pk=op.pk)
    assert done.state == "failed" and "catalog could not be read" in done.error
    broker.refresh_from_db()
    assert broker.sync_state == "failed" and "JSON" in broker.last_sync_error
