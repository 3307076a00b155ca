"""Fixtures for the OSB client tests: a real fault-injecting broker on 127.0.0.1."""

from __future__ import annotations

import pytest

from osb.client import BrokerClient, basic
from osb.tests.fault_broker import FaultBroker


@pytest.fixture(scope="session")
def _fault_broker_server():
    broker = FaultBroker().start()
    yield broker
    broker.stop()


@pytest.fixture
def fault_broker(_fault_broker_server):
    _fault_broker_server.reset()
    return _fault_broker_server


@pytest.fixture
def client(fault_broker):
    with BrokerClient(fault_broker.url, auth=basic("platform", "secret"), timeout=2.0) as c:
        yield c
