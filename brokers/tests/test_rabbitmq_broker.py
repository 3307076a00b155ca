"""The RabbitMQ broker as a real process against the real RabbitMQ, driven by osb.client."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import kombu
import pytest
from amqp.exceptions import AccessRefused

from osb import errors

PREFIX = "servicebay-broker"


@pytest.fixture
def ids(rabbitmq_admin):
    """Fresh ids; the vhosts, users and state parameters a test leaves behind are deleted afterwards."""
    made: list[str] = []

    def new(kind: str) -> str:
        made.append(f"{kind}-{uuid.uuid4()}")
        return made[-1]

    yield new
    for some_id in made:
        for path in (
            f"/vhosts/sbi-{some_id}",
            f"/users/sbb-{some_id}",
            f"/global-parameters/{PREFIX}.instance.{some_id}",
            f"/global-parameters/{PREFIX}.binding.{some_id}",
        ):
            rabbitmq_admin.delete(quote(path))


@pytest.fixture
def broker(start_broker, rabbitmq_admin):
    return lambda: start_broker("brokers.rabbitmq")


def plans(client):
    service = client.catalog().service_named("rabbitmq")
    return service, service.plan_named("small"), service.plan_named("large")


def max_connections(admin, vhost: str) -> int | None:
    limits = admin.get(f"/vhost-limits/{quote(vhost, safe='')}").json()
    return limits[0]["value"].get("max-connections") if limits else None


def exists(admin, path: str) -> bool:
    return admin.get(path).status_code == 200


def test_whole_lifecycle(broker, ids, rabbitmq_admin):
    client = broker().client()
    service, small, large = plans(client)
    assert service.bindable and small.maintenance_info.version == "3.10.0" and service.plan_is_updateable(small)
    instance, binding = ids("instance"), ids("binding")
    vhost = f"sbi-{instance}"

    assert client.provision(instance, service_id=service.id, plan_id=small.id).status == 201
    assert client.provision(instance, service_id=service.id, plan_id=small.id).already_existed  # 200
    with pytest.raises(errors.Conflict):
        client.provision(instance, service_id=service.id, plan_id=large.id)
    assert exists(rabbitmq_admin, f"/vhosts/{vhost}") and max_connections(rabbitmq_admin, vhost) == 10

    bound = client.bind(instance, binding, service_id=service.id, plan_id=small.id)
    creds = bound.credentials
    assert bound.status == 201
    assert creds["uri"] == f"amqp://sbb-{binding}:{creds['password']}@127.0.0.1:5672/{vhost}"
    with kombu.Connection(creds["uri"], connect_timeout=5) as conn:  # publish and consume for real
        queue = conn.SimpleQueue("greetings")
        queue.put({"hello": "world"})
        message = queue.get(timeout=5)
        assert message.payload == {"hello": "world"}
        message.ack()
        queue.close()
    assert client.bind(instance, binding, service_id=service.id, plan_id=small.id).credentials == creds  # 200
    assert client.get_binding(instance, binding).credentials == creds

    assert client.update(instance, service_id=service.id, plan_id=large.id).status == 200
    assert max_connections(rabbitmq_admin, vhost) == 100
    assert client.get_instance(instance).plan_id == large.id
    with pytest.raises(errors.MaintenanceInfoConflict):
        client.update(instance, service_id=service.id, maintenance_info="4.0.0")

    assert client.unbind(instance, binding, service_id=service.id, plan_id=large.id).status == 200
    assert not exists(rabbitmq_admin, f"/users/sbb-{binding}")
    with pytest.raises(AccessRefused), kombu.Connection(creds["uri"], connect_timeout=5) as conn:
        conn.connect()
    assert client.unbind(instance, binding, service_id=service.id, plan_id=large.id).gone

    assert client.deprovision(instance, service_id=service.id, plan_id=large.id).status == 200
    assert not exists(rabbitmq_admin, f"/vhosts/{vhost}")
    assert client.deprovision(instance, service_id=service.id, plan_id=large.id).gone
    with pytest.raises(errors.UnprocessableEntity):
        client.bind(instance, binding, service_id=service.id, plan_id=large.id)


def test_state_survives_a_restart(broker, ids, rabbitmq_admin):
    first = broker()
    client = first.client()
    service, small, _ = plans(client)
    instance, binding = ids("instance"), ids("binding")
    client.provision(instance, service_id=service.id, plan_id=small.id)
    creds = client.bind(instance, binding, service_id=service.id, plan_id=small.id).credentials
    first.kill()

    client = broker().client()
    assert client.get_instance(instance).plan_id == small.id
    assert client.get_binding(instance, binding).credentials == creds
    assert client.bind(instance, binding, service_id=service.id, plan_id=small.id).already_existed
    with kombu.Connection(creds["uri"], connect_timeout=5) as conn:
        conn.connect()
    # deprovision without unbinding first still leaves nothing behind
    assert client.deprovision(instance, service_id=service.id, plan_id=small.id).status == 200
    assert not exists(rabbitmq_admin, f"/users/sbb-{binding}")
    assert not exists(rabbitmq_admin, f"/vhosts/sbi-{instance}")


def test_an_async_provision_cut_short_by_a_restart_is_resumed(start_broker, ids, rabbitmq_admin):
    """The broker dies while its thread waits to create the vhost: the next broker process picks the
    work up on the platform's next poll instead of answering "in progress" for ever."""
    first = start_broker("brokers.rabbitmq", "--async-provision", "--work-delay", "30")
    client = first.client()
    service, small, _ = plans(client)
    instance = ids("instance")
    reply = client.provision(instance, service_id=service.id, plan_id=small.id)
    assert reply.status == 202
    first.kill()  # mid-provision: the record says "provisioning", no vhost yet
    assert not exists(rabbitmq_admin, f"/vhosts/sbi-{instance}")

    client = start_broker("brokers.rabbitmq", "--async-provision").client()
    result = client.poll_last_operation(
        instance, service_id=service.id, plan_id=small.id, max_duration=20, interval=0.5
    )
    assert result.state.value == "succeeded", result
    assert exists(rabbitmq_admin, f"/vhosts/sbi-{instance}")
    assert client.deprovision(instance, service_id=service.id, plan_id=small.id).status == 200
