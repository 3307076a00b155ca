"""Instances of broker types, end to end: the example PostgreSQL broker (a real process on the real
PostgreSQL), the operation handlers run inline, the binding delivered on the real API server."""

from __future__ import annotations

import base64

import psycopg
from psycopg import sql

from catalog.models import Broker, Plan, ServiceType
from catalog.tests.pg_broker import (  # noqa: F401 (fixtures)
    ADMIN_DSN,
    BrokerProcess,
    pg_admin_fixture,
    pg_broker_fixture,
    register,
)
from instances import services
from instances.models import Binding, Instance
from instances.tests.conftest import run
from instances.tests.test_instances import consumer
from portal.models import OperationStep


def _database_exists(pg_admin, name: str) -> bool:
    return pg_admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _role_exists(pg_admin, name: str) -> bool:
    return pg_admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


def _connection_limit(pg_admin, name: str) -> int:
    return pg_admin.execute("SELECT datconnlimit FROM pg_database WHERE datname = %s", (name,)).fetchone()[0]


def test_broker_instance_lifecycle(owner, org, team, cluster, kube, kube_namespace, pg_broker, pg_admin):
    broker, sync = register(owner, org, pg_broker)
    assert sync.state == "succeeded", sync.error
    pg_type = ServiceType.objects.get(broker=broker)
    assert (pg_type.slug, pg_type.source, pg_type.owner_team, pg_type.org) == ("pg-postgresql", "broker", team, org)
    small, large = Plan.objects.get(type=pg_type, slug="small"), Plan.objects.get(type=pg_type, slug="large")
    assert small.maintenance_info["version"] == "15.0.0" and small.broker_plan_id
    version = pg_type.versions.get()
    assert version.state == "published" and version.parameter_schema["properties"]["encoding"]["default"] == "UTF8"

    # Provision (asynchronous at the broker, polled): no cluster.
    instance, op = services.provision_instance(
        actor=owner, org=org, service_type=pg_type, name="orders-db", plan=small, parameters={"encoding": "UTF8"}
    )
    assert instance.cluster is None
    done = run(op.pk)
    assert done.state == "succeeded", done.error
    instance.refresh_from_db()
    assert instance.state == "ready"
    steps = list(OperationStep.objects.filter(operation=op).values_list("message", flat=True))
    assert "The broker is provisioning asynchronously; polling last_operation" in steps
    assert any(s.startswith("Broker: succeeded") for s in steps)

    # Bind a Deployment of the org's cluster: the broker's credentials land in the Secret.
    consumer(kube, kube_namespace)
    binding, op = services.bind_instance(actor=owner, instance=instance, app="deployment/consumer")
    assert binding.app_cluster == cluster and binding.app_namespace == kube_namespace
    done = run(op.pk)
    assert done.state == "succeeded", done.error
    secret = kube.get("v1", "Secret", "orders-db-consumer-binding", kube_namespace)
    files = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert {"uri", "host", "port", "database", "username", "password", "type", "provider"} <= set(files)
    assert secret["type"] == "servicebinding.io/pg-postgresql"
    spec = kube.get("apps/v1", "Deployment", "consumer", kube_namespace)["spec"]["template"]["spec"]
    assert spec["volumes"][0]["secret"]["secretName"] == "orders-db-consumer-binding"
    binding.refresh_from_db()
    assert binding.state == "ready" and set(binding.broker_details) >= {"volume_mounts", "endpoints"}
    assert _database_exists(pg_admin, files["database"])
    with psycopg.connect(files["uri"], connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert not OperationStep.objects.filter(message__contains=files["password"]).exists()
    assert _connection_limit(pg_admin, files["database"]) == 5

    # Update to large: the broker changes the connection limit.
    op = services.update_instance(actor=owner, instance=instance, plan=large)
    done = run(op.pk)
    assert done.state == "succeeded", done.error
    assert Instance.objects.get(pk=instance.pk).state == "ready"
    assert _connection_limit(pg_admin, files["database"]) == 20

    # Unbind: Secret gone, the broker dropped the role.
    op = services.unbind(actor=owner, binding=binding)
    done = run(op.pk)
    assert done.state == "succeeded", done.error
    assert Binding.objects.get(pk=binding.pk).state == "deleted"
    assert kube.get_or_none("v1", "Secret", "orders-db-consumer-binding", kube_namespace) is None
    assert not _role_exists(pg_admin, files["username"])

    # Deprovision: the database is gone.
    op = services.deprovision_instance(actor=owner, instance=Instance.objects.get(pk=instance.pk))
    done = run(op.pk)
    assert done.state == "succeeded", done.error
    assert Instance.objects.get(pk=instance.pk).state == "deprovisioned"
    assert not _database_exists(pg_admin, files["database"])


def _broker_type(owner, org, pg_broker):
    broker, sync = register(owner, org, pg_broker)
    assert sync.state == "succeeded", sync.error
    pg_type = ServiceType.objects.get(broker=broker)
    return broker, pg_type, Plan.objects.get(type=pg_type, slug="small")


def test_stale_maintenance_info_resyncs_and_fails_clearly(owner, org, team, pg_broker, tmp_path):
    broker, pg_type, small = _broker_type(owner, org, pg_broker)
    pg_broker.stop()  # the vendor upgrades: same state, new maintenance level
    upgraded = BrokerProcess(
        "brokers.postgres",
        ["--admin-dsn", ADMIN_DSN, "--state-schema", pg_broker.state_schema, "--maintenance-version", "16.0.0"],
        tmp_path / "upgraded.log",
    ).start()
    try:
        Broker.objects.filter(pk=broker.pk).update(url=upgraded.url)
        instance, op = services.provision_instance(
            actor=owner, org=org, service_type=pg_type, name="stale-db", plan=small
        )
        done = run(op.pk)
        assert done.state == "failed"
        assert "maintenance_info is out of date" in done.error and "catalog was resynced" in done.error
        assert Plan.objects.get(pk=small.pk).maintenance_info["version"] == "16.0.0"
        assert Instance.objects.get(pk=instance.pk).state == "failed"
    finally:
        upgraded.stop()


def test_deprovision_of_an_instance_the_broker_does_not_know_succeeds(owner, org, team, pg_broker):
    _, pg_type, small = _broker_type(owner, org, pg_broker)
    instance = Instance.objects.create(
        org=org, name="ghost", type=pg_type, version=pg_type.versions.get(), plan=small, state="ready"
    )
    op = services.deprovision_instance(actor=owner, instance=instance)
    done = run(op.pk)
    assert done.state == "succeeded", done.error
    assert "The broker no longer has the instance (410): nothing to delete" in OperationStep.objects.filter(
        operation=op
    ).values_list("message", flat=True)
    assert Instance.objects.get(pk=instance.pk).state == "deprovisioned"


def test_identity_and_context_are_sent(owner, org, team, pg_broker, pg_admin):
    _, pg_type, small = _broker_type(owner, org, pg_broker)
    instance, op = services.provision_instance(
        actor=owner, org=org, service_type=pg_type, name="ctx-db", plan=small, namespace="orders"
    )
    assert run(op.pk).state == "succeeded"
    row = pg_admin.execute(
        sql.SQL("SELECT context FROM {}.instances WHERE instance_id = %s").format(
            sql.Identifier(pg_broker.state_schema)
        ),
        (str(instance.pk),),
    ).fetchone()
    assert row[0]["platform"] == "servicebay" and row[0]["organization_name"] == "acme"
    assert row[0]["namespace"] == "orders" and row[0]["organization_guid"]
    op = services.deprovision_instance(actor=owner, instance=Instance.objects.get(pk=instance.pk))
    assert run(op.pk).state == "succeeded"
