"""make run's example brokers: registered (and served) only when their backing service answers."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from brokers import demo
from catalog.models import Broker
from portal.models import Operation

pytestmark = pytest.mark.django_db


def test_seed_brokers_registers_the_available_brokers_once():
    call_command("seed_demo", stdout=StringIO())
    assert demo.availability() == {"postgres": "", "rabbitmq": ""}  # make test starts both services
    call_command("seed_brokers", stdout=StringIO())
    brokers = {b.name: b for b in Broker.objects.select_related("org", "owner_team")}
    assert brokers["rabbitmq"].org.slug == "acme" and brokers["rabbitmq"].owner_team.slug == "platform"
    assert brokers["postgres"].org.slug == "globex" and brokers["postgres"].url == "http://127.0.0.1:8601"
    assert brokers["postgres"].secret == "broker-secret"  # stored encrypted, read back through the field
    assert Operation.objects.filter(kind="broker.sync").count() == 2  # the first sync of each is queued
    call_command("seed_brokers", stdout=StringIO())
    assert Broker.objects.count() == 2 and Operation.objects.filter(kind="broker.sync").count() == 2


def test_an_unreachable_backing_service_keeps_its_broker_off(monkeypatch):
    monkeypatch.setenv("PG_BROKER_ADMIN_DSN", "postgresql://nobody:wrong@127.0.0.1:1/none")
    monkeypatch.setenv("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:1")
    reasons = demo.availability()
    assert reasons["postgres"].startswith("PostgreSQL is not reachable")
    assert reasons["rabbitmq"].startswith("the RabbitMQ management API is not reachable")
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_brokers", stdout=StringIO())
    assert not Broker.objects.exists()
