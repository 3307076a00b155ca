"""The example RabbitMQ broker (brokers/rabbitmq.py) as a real process, for broker-source tests.

Import the fixtures into a test module:
``from catalog.tests.rabbitmq_broker import rabbitmq_admin_fixture, rabbitmq_broker_fixture``
(they are named ``rabbitmq_admin`` and ``rabbitmq_broker``). The broker provisions asynchronously
(``--async-provision``), so Servicebay polls ``last_operation``.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from brokers.tests.conftest import RABBITMQ_ADMIN, RABBITMQ_MANAGEMENT, BrokerProcess

PREFIX = "servicebay-broker"


@pytest.fixture(name="rabbitmq_admin")
def rabbitmq_admin_fixture():
    """The RabbitMQ management API as its admin (to check what the broker did)."""
    client = httpx.Client(base_url=RABBITMQ_MANAGEMENT + "/api", auth=RABBITMQ_ADMIN, timeout=10)
    try:
        client.get("/overview").raise_for_status()
    except httpx.HTTPError as exc:
        client.close()
        pytest.skip(f"RabbitMQ's management API is not reachable ({exc}); run scripts/services.sh rabbitmq")
    yield client
    client.close()


@pytest.fixture(name="rabbitmq_broker")
def rabbitmq_broker_fixture(tmp_path, rabbitmq_admin):
    """A running RabbitMQ broker; every vhost, user and state record it made for the test is removed after."""
    before = {p["name"] for p in rabbitmq_admin.get("/global-parameters").json()}
    process = BrokerProcess(
        "brokers.rabbitmq", ["--async-provision", "--work-delay", "0.5"], tmp_path / "rabbitmq-broker.log"
    ).start()
    yield process
    process.stop()
    for param in rabbitmq_admin.get("/global-parameters").json():
        name = param["name"]
        if name in before or not name.startswith(f"{PREFIX}.") or name == f"{PREFIX}.secret":
            continue
        value = param["value"]
        if value.get("vhost"):
            rabbitmq_admin.delete(f"/vhosts/{quote(value['vhost'], safe='')}")
        if value.get("user"):
            rabbitmq_admin.delete(f"/users/{quote(value['user'], safe='')}")
        rabbitmq_admin.delete(f"/global-parameters/{quote(name, safe='')}")


def exists(admin: httpx.Client, kind: str, name: str) -> bool:
    """Does the vhost/user ``name`` exist (``kind``: ``vhosts`` or ``users``)?"""
    return admin.get(f"/{kind}/{quote(name, safe='')}").status_code == 200
