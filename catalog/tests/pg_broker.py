"""The example PostgreSQL broker (brokers/postgres.py) as a real process, for broker-source tests.

Import the fixtures into a test module: ``from catalog.tests.pg_broker import pg_admin_fixture, pg_broker_fixture``
(they are named ``pg_admin`` and ``pg_broker``).
"""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from brokers.tests.conftest import PASSWORD, USERNAME, BrokerProcess

ADMIN_DSN = os.environ.get("PG_BROKER_ADMIN_DSN", "postgresql://servicebay:servicebay@127.0.0.1:5432/servicebay")

__all__ = ["ADMIN_DSN", "BrokerProcess", "PASSWORD", "USERNAME", "pg_admin_fixture", "pg_broker_fixture", "register"]


@pytest.fixture(name="pg_admin")
def pg_admin_fixture():
    try:
        conn = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable ({exc})")
    with conn:
        yield conn


@pytest.fixture(name="pg_broker")
def pg_broker_fixture(tmp_path, pg_admin):
    """A running PostgreSQL broker with a state schema of its own (dropped afterwards)."""
    schema = f"broker_state_sb_{uuid.uuid4().hex[:10]}"
    process = BrokerProcess(
        "brokers.postgres",
        ["--admin-dsn", ADMIN_DSN, "--state-schema", schema, "--work-delay", "0.5"],
        tmp_path / "postgres-broker.log",
    ).start()
    process.state_schema = schema
    yield process
    process.stop()
    pg_admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def register(actor, org, process, name="pg"):
    """Register the broker through the service and run its first sync inline."""
    from catalog import brokers
    from portal import operations
    from portal.models import Operation

    broker, op = brokers.register_broker(
        actor=actor, org=org, name=name, url=process.url, auth_kind="basic", username=USERNAME, secret=PASSWORD
    )
    operations.execute(op.pk)
    return broker, Operation.objects.get(pk=op.pk)
