"""`sbay brokers` and `sbay marketplace` against a live server and the real example PostgreSQL broker."""

from __future__ import annotations

import json

from catalog.models import Broker, ServiceType
from catalog.tests.conftest import make_chat
from catalog.tests.pg_broker import PASSWORD, USERNAME, pg_admin_fixture, pg_broker_fixture  # noqa: F401 (fixtures)
from portal import operations
from portal.models import Operation
from sbay.tests.test_types_cli import cli, sbay  # noqa: F401 (fixtures)


def test_register_list_sync_marketplace_remove(sbay, owner, org, team, pg_broker, monkeypatch):  # noqa: F811
    make_chat(owner, org, team)
    monkeypatch.setenv("SBAY_BROKER_PASSWORD", PASSWORD)
    code, out, err = sbay("brokers", "register", "pg", pg_broker.url, "--username", USERNAME, "-o", "json")
    assert code == 0, err
    registered = json.loads(out)
    assert PASSWORD not in out and Broker.objects.get().secret == PASSWORD
    operations.execute(registered["operation"])  # no worker in this test: run the sync inline
    assert Operation.objects.get(pk=registered["operation"]).state == "succeeded"

    code, out, err = sbay("brokers", "list")
    assert code == 0, err
    assert "pg" in out and "ready" in out and "pg-postgresql" in out

    code, out, err = sbay("marketplace")
    assert code == 0, err
    assert "pg-postgresql" in out and "broker" in out and "chat" in out and "template" in out

    code, out, err = sbay("brokers", "sync", "pg", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["kind"] == "broker.sync"

    code, out, err = sbay("brokers", "remove", "pg")
    assert code == 0, err
    assert not Broker.objects.exists() and ServiceType.objects.get(slug="pg-postgresql").removed_from_broker
    code, out, err = sbay("marketplace")
    assert "pg-postgresql" not in out and "chat" in out

    code, out, err = sbay("brokers", "sync", "pg")
    assert code != 0 and "No broker called 'pg'" in err
