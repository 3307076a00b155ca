"""The PostgreSQL broker as a real process against the real PostgreSQL, driven by osb.client."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from brokers.common import short_name
from osb import errors
from osb.client import BrokerClient
from osb.orphans import needs_orphan_mitigation


@pytest.fixture
def ids(pg_admin_dsn):
    """Fresh instance/binding ids; whatever a test leaves behind in PostgreSQL is dropped afterwards."""
    made: list[str] = []

    def new(kind: str) -> str:
        made.append(f"{kind}-{uuid.uuid4()}")
        return made[-1]

    yield new
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        for some_id in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{short_name("sbi_", some_id)}" WITH (FORCE)')
        for some_id in made:
            for prefix in ("sbb_", "sbo_"):
                conn.execute(f'DROP ROLE IF EXISTS "{short_name(prefix, some_id)}"')


@pytest.fixture
def broker(start_broker, pg_admin_dsn, pg_state_schema):
    def start(*extra: str):
        return start_broker("brokers.postgres", "--admin-dsn", pg_admin_dsn, "--state-schema", pg_state_schema, *extra)

    return start


def plans(client):
    catalog = client.catalog()
    service = catalog.service_named("postgresql")
    return service, service.plan_named("small"), service.plan_named("large")


def conn_limit(pg_admin, database: str) -> int | None:
    row = pg_admin.execute("SELECT datconnlimit FROM pg_database WHERE datname = %s", (database,)).fetchone()
    return row[0] if row else None


def role_exists(pg_admin, role: str) -> bool:
    return pg_admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def test_whole_lifecycle(broker, ids, pg_admin):
    process = broker("--work-delay", "1")
    client = process.client()
    service, small, large = plans(client)
    assert service.bindable and service.instances_retrievable and service.bindings_retrievable
    assert service.plan_is_updateable(small) and small.maintenance_info.version == "15.0.0"
    assert small.schemas.service_instance_create["properties"]["encoding"]["enum"] == ["UTF8", "LATIN1", "SQL_ASCII"]
    instance, binding, second = ids("instance"), ids("binding"), ids("binding")

    # async provision, polled to success
    accepted = client.provision(
        instance, service_id=service.id, plan_id=small.id, maintenance_info=small.maintenance_info,
        context={"namespace": "chat"}, identity={"user_id": "owner"},
    )  # fmt: skip
    assert accepted.accepted and accepted.operation
    with pytest.raises(errors.NotFound):  # "404 ... if a provisioning operation is still in progress"
        client.get_instance(instance)
    first = client.last_operation(instance, service_id=service.id, plan_id=small.id, operation=accepted.operation)
    assert first.in_progress and first.retry_after == 1.0
    done = client.poll_last_operation(
        instance, service_id=service.id, plan_id=small.id, operation=accepted.operation, max_duration=30
    )
    assert done.succeeded, done.description
    database = short_name("sbi_", instance)
    assert conn_limit(pg_admin, database) == 5
    assert client.provision(instance, service_id=service.id, plan_id=small.id).already_existed  # 200

    # bind, then really use the credentials
    bound = client.bind(instance, binding, service_id=service.id, plan_id=small.id, bind_resource={"app_guid": "app"})
    creds = bound.credentials
    assert bound.status == 201 and set(creds) == {"uri", "host", "port", "database", "username", "password"}
    assert (creds["host"], creds["port"], creds["database"]) == ("127.0.0.1", 5432, database)
    with psycopg.connect(creds["uri"], connect_timeout=5) as app:
        app.execute("CREATE TABLE notes (body text)")
        app.execute("INSERT INTO notes VALUES ('hello')")
        assert app.execute("SELECT body FROM notes").fetchall() == [("hello",)]
    again = client.bind(instance, binding, service_id=service.id, plan_id=small.id)
    assert again.already_existed and again.credentials == creds  # 200, same working credentials
    assert client.get_binding(instance, binding).credentials == creds
    other = client.bind(instance, second, service_id=service.id, plan_id=small.id).credentials
    with psycopg.connect(other["uri"], connect_timeout=5) as app2:  # every binding sees the instance's data
        assert app2.execute("SELECT body FROM notes").fetchall() == [("hello",)]

    # update small → large: the connection limit changes
    with pytest.raises(errors.MaintenanceInfoConflict):
        client.update(instance, service_id=service.id, plan_id=large.id, maintenance_info="14.0.0")
    updating = client.update(instance, service_id=service.id, plan_id=large.id, previous_values={"plan_id": small.id})
    assert updating.accepted
    with pytest.raises(errors.ConcurrencyError):
        client.get_instance(instance)
    # the spec: poll with the plan id from *before* the update
    assert client.poll_last_operation(
        instance, service_id=service.id, plan_id=small.id, operation=updating.operation, max_duration=30
    ).succeeded
    assert conn_limit(pg_admin, database) == 20
    assert client.get_instance(instance).plan_id == large.id

    # unbind: the role is gone and its credentials stop working
    role = creds["username"]
    assert role_exists(pg_admin, role)
    assert client.unbind(instance, binding, service_id=service.id, plan_id=large.id).status == 200
    assert not role_exists(pg_admin, role)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(creds["uri"], connect_timeout=5).close()
    assert client.unbind(instance, binding, service_id=service.id, plan_id=large.id).gone  # 410
    client.unbind(instance, second, service_id=service.id, plan_id=large.id)

    # deprovision: the database is gone
    deleting = client.deprovision(instance, service_id=service.id, plan_id=large.id)
    assert deleting.accepted
    result = client.poll_last_operation(instance, operation=deleting.operation, deleting=True, max_duration=30)
    assert result.succeeded  # the broker answers 410 Gone once the delete is done
    assert conn_limit(pg_admin, database) is None
    assert not role_exists(pg_admin, short_name("sbo_", instance))
    assert client.deprovision(instance, service_id=service.id, plan_id=large.id).gone


def test_state_survives_a_killed_broker(broker, ids, pg_admin):
    first = broker("--work-delay", "1.5")
    client = first.client()
    service, small, _ = plans(client)
    instance = ids("instance")
    accepted = client.provision(instance, service_id=service.id, plan_id=small.id)
    assert client.last_operation(instance, operation=accepted.operation).in_progress
    first.kill()  # SIGKILL mid-operation: the background thread dies with it

    second = broker()  # a new process on the same backing PostgreSQL resumes the operation
    client = second.client()
    done = client.poll_last_operation(instance, operation=accepted.operation, interval=0.2, max_duration=30)
    assert done.succeeded, done.description
    assert conn_limit(pg_admin, short_name("sbi_", instance)) == 5
    assert client.get_instance(instance).plan_id == small.id
    binding = ids("binding")
    creds = client.bind(instance, binding, service_id=service.id, plan_id=small.id).credentials

    second.stop()
    third = broker("--maintenance-version", "15.1.0")  # the vendor rolled out a new maintenance level
    client = third.client()
    assert client.get_binding(instance, binding).credentials == creds  # same secret, same password
    with psycopg.connect(creds["uri"], connect_timeout=5) as app:
        assert app.execute("SELECT 1").fetchone() == (1,)
    assert plans(client)[1].maintenance_info.version == "15.1.0"
    with pytest.raises(errors.MaintenanceInfoConflict):
        client.update(instance, service_id=service.id, maintenance_info="15.0.0")
    upgrade = client.update(
        instance, service_id=service.id, maintenance_info="15.1.0", previous_values={"maintenance_info": "15.0.0"}
    )
    done = client.poll_last_operation(instance, operation=upgrade.operation, interval=0.2, max_duration=30)
    assert done.succeeded and "Maintenance level 15.1.0" in done.description
    assert client.update(instance, service_id=service.id, maintenance_info="15.1.0").status == 200  # up to date
    client.unbind(instance, binding, service_id=service.id, plan_id=small.id)
    client.deprovision(instance, service_id=service.id, plan_id=small.id, accepts_incomplete=False)
    assert conn_limit(pg_admin, short_name("sbi_", instance)) is None


def test_failed_async_provision_is_cleaned_up_by_orphan_mitigation(broker, ids, pg_admin):
    ctype = pg_admin.execute("SELECT datctype FROM pg_database WHERE datname = current_database()").fetchone()[0]
    if ctype in ("C", "POSIX"):
        pytest.skip("with the C locale every encoding is accepted: LATIN1 would not fail")
    client = broker().client()
    service, small, _ = plans(client)
    instance = ids("instance")
    accepted = client.provision(instance, service_id=service.id, plan_id=small.id, parameters={"encoding": "LATIN1"})
    op = client.poll_last_operation(instance, operation=accepted.operation, interval=0.2, max_duration=30)
    assert op.failed and "PostgreSQL: encoding" in op.description
    assert needs_orphan_mitigation("provision", state=op.state)
    with pytest.raises(errors.Conflict):  # a failed instance is not silently re-provisioned
        client.provision(instance, service_id=service.id, plan_id=small.id, parameters={"encoding": "LATIN1"})
    deleting = client.deprovision(instance, service_id=service.id, plan_id=small.id)
    assert client.poll_last_operation(instance, operation=deleting.operation, deleting=True, interval=0.2).succeeded
    assert not role_exists(pg_admin, short_name("sbo_", instance))


def test_spec_errors(broker, ids):
    process = broker("--work-delay", "2")
    client = process.client()
    service, small, large = plans(client)
    instance = ids("instance")
    with pytest.raises(errors.AsyncRequired):
        client.provision(instance, service_id=service.id, plan_id=small.id, accepts_incomplete=False)
    with pytest.raises(errors.MaintenanceInfoConflict):
        client.provision(instance, service_id=service.id, plan_id=small.id, maintenance_info="16.0.0")
    with pytest.raises(errors.BadRequest):
        client.provision(instance, service_id=service.id, plan_id=small.id, parameters={"size": "huge"})
    with pytest.raises(errors.BadRequest):
        client.provision(instance, service_id=service.id, plan_id="no-such-plan")
    accepted = client.provision(instance, service_id=service.id, plan_id=small.id)
    # while the provision runs (2 s):
    with pytest.raises(errors.ConcurrencyError):
        client.update(instance, service_id=service.id, plan_id=large.id)
    with pytest.raises(errors.ConcurrencyError):
        client.bind(instance, ids("binding"), service_id=service.id, plan_id=small.id)
    with pytest.raises(errors.ConcurrencyError):
        client.deprovision(instance, service_id=service.id, plan_id=small.id)
    again = client.provision(instance, service_id=service.id, plan_id=small.id)
    assert again.accepted and again.operation == accepted.operation  # re-sent PUT while in progress: 202
    assert client.last_operation(instance, operation=accepted.operation).in_progress  # still: the checks were valid
    with pytest.raises(errors.Conflict):
        client.provision(instance, service_id=service.id, plan_id=large.id)
    with pytest.raises(errors.Unauthorized), BrokerClient(process.url) as intruder:
        intruder.catalog()
    with pytest.raises(errors.PreconditionFailed), process.client(api_version="2.12") as old_platform:
        old_platform.catalog()
    with pytest.raises(errors.UnprocessableEntity):
        client.bind(ids("instance"), ids("binding"), service_id=service.id, plan_id=small.id)
    assert client.poll_last_operation(instance, operation=accepted.operation, interval=0.2, max_duration=30).succeeded
    assert client.update(instance, service_id=service.id, plan_id=small.id).status == 200  # no change
    started = time.monotonic()
    assert client.update(instance, service_id=service.id, plan_id=large.id, accepts_incomplete=False).status == 200
    assert time.monotonic() - started >= 1  # done synchronously when the platform cannot poll
    assert client.deprovision(instance, service_id=service.id, plan_id=large.id, accepts_incomplete=False).status == 200
