"""RabbitMQ through Servicebay, end to end: the example RabbitMQ broker (a real process on the real
RabbitMQ, provisioning asynchronously), the operation handlers run inline, the binding delivered to a
Deployment on the real API server, and a message published and consumed with the delivered AMQP URI."""

from __future__ import annotations

import base64

import kombu
import pytest
from amqp.exceptions import AccessRefused

from catalog.models import Plan, ServiceType
from catalog.tests.pg_broker import register
from catalog.tests.rabbitmq_broker import exists, rabbitmq_admin_fixture, rabbitmq_broker_fixture  # noqa: F401
from instances import services
from instances.models import Binding, Instance
from instances.tests.conftest import run
from instances.tests.test_instances import consumer
from portal.models import OperationStep


def _steps(op) -> list[str]:
    return list(OperationStep.objects.filter(operation=op).values_list("message", flat=True))


def test_rabbitmq_broker_lifecycle(owner, org, team, cluster, kube, kube_namespace, rabbitmq_broker, rabbitmq_admin):
    broker, sync = register(owner, org, rabbitmq_broker, name="mq")
    assert sync.state == "succeeded", sync.error
    mq_type = ServiceType.objects.get(broker=broker)
    assert (mq_type.slug, mq_type.source, mq_type.name) == ("mq-rabbitmq", "broker", "RabbitMQ")
    small = Plan.objects.get(type=mq_type, slug="small")
    assert small.maintenance_info == {"version": "3.10.0"} and small.broker_plan_id

    # Provision: the broker answers 202, Servicebay polls last_operation until the vhost exists.
    instance, op = services.provision_instance(actor=owner, org=org, service_type=mq_type, name="events", plan=small)
    assert instance.cluster is None and instance.state == "provisioning"
    done = run(op.pk)
    assert done.state == "succeeded", done.error
    steps = _steps(op)
    assert "The broker is provisioning asynchronously; polling last_operation" in steps
    assert "Broker: succeeded — The virtual host is ready" in steps
    instance = Instance.objects.get(pk=instance.pk)
    assert instance.state == "ready"
    vhost = f"sbi-{instance.pk}"
    assert exists(rabbitmq_admin, "vhosts", vhost)

    # Bind a Deployment: the AMQP URI lands in the servicebinding.io Secret projected into it.
    consumer(kube, kube_namespace)
    binding, op = services.bind_instance(actor=owner, instance=instance, app="deployment/consumer")
    done = run(op.pk)
    assert done.state == "succeeded", done.error
    secret = kube.get("v1", "Secret", "events-consumer-binding", kube_namespace)
    assert secret["type"] == "servicebinding.io/mq-rabbitmq"
    files = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert {"uri", "host", "port", "vhost", "username", "password", "type", "provider"} <= set(files)
    assert files["vhost"] == vhost and files["username"] == f"sbb-{binding.pk}"
    assert files["uri"].startswith(f"amqp://sbb-{binding.pk}:") and files["uri"].endswith(f"@127.0.0.1:5672/{vhost}")
    pod_spec = kube.get("apps/v1", "Deployment", "consumer", kube_namespace)["spec"]["template"]["spec"]
    assert pod_spec["volumes"][0]["secret"]["secretName"] == "events-consumer-binding"
    assert not OperationStep.objects.filter(message__contains=files["password"]).exists()

    # The app's view: publish and consume a message with the delivered URI, on the real RabbitMQ.
    with kombu.Connection(files["uri"], connect_timeout=5) as conn:
        queue = conn.SimpleQueue("orders")
        queue.put({"order": 42})
        message = queue.get(timeout=5)
        assert message.payload == {"order": 42}
        message.ack()
        queue.close()
    assert rabbitmq_admin.get(f"/queues/{vhost}/orders").json()["vhost"] == vhost  # in the instance's vhost

    # Unbind: the Secret and the broker's user are gone, the URI no longer logs in.
    op = services.unbind(actor=owner, binding=binding)
    done = run(op.pk)
    assert done.state == "succeeded", done.error
    assert Binding.objects.get(pk=binding.pk).state == "deleted"
    assert kube.get_or_none("v1", "Secret", "events-consumer-binding", kube_namespace) is None
    assert not exists(rabbitmq_admin, "users", files["username"])
    with pytest.raises(AccessRefused), kombu.Connection(files["uri"], connect_timeout=5) as conn:
        conn.connect()

    # Deprovision: the vhost is gone.
    op = services.deprovision_instance(actor=owner, instance=Instance.objects.get(pk=instance.pk))
    done = run(op.pk)
    assert done.state == "succeeded", done.error
    assert Instance.objects.get(pk=instance.pk).state == "deprovisioned"
    assert not exists(rabbitmq_admin, "vhosts", vhost)
