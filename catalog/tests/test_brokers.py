"""Brokers as a source of types: register, sync (against the real example PostgreSQL broker), resync
without changes, dropped offerings and plans, sync errors, the API and its permissions."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from catalog import brokers
from catalog.models import Broker, Plan, ServiceType
from catalog.tests.pg_broker import PASSWORD, USERNAME, pg_admin_fixture, pg_broker_fixture, register  # noqa: F401 (fixtures)
from conftest import api_client_for
from osb.models import Catalog
from portal import operations
from portal.models import AuditEvent, Operation


def test_register_and_sync(owner, org, team, pg_broker):
    broker, op = register(owner, org, pg_broker)
    assert op.state == "succeeded" and op.result == {"created": 3, "updated": 0, "removed": 0}
    broker.refresh_from_db()
    assert broker.last_sync_at and not broker.last_sync_error and broker.sync_state == "ready"
    type_ = ServiceType.objects.get(broker=broker)
    assert type_.slug == "pg-postgresql" and type_.name == "PostgreSQL" and type_.source == "broker"
    assert type_.visibility == "org" and type_.tags == ["postgresql", "sql", "relational"]
    plans = {p.slug: p for p in Plan.objects.filter(type=type_)}
    assert set(plans) == {"small", "large"}
    assert plans["large"].maintenance_info == {
        "version": "15.0.0",
        "description": "PostgreSQL databases, maintenance level 15.0.0",
    }
    assert plans["small"].name == "PostgreSQL small"
    event = AuditEvent.objects.get(action="broker.register")
    assert PASSWORD not in str(event.changes) and Broker.objects.get().secret == PASSWORD


def test_resync_without_change_writes_nothing(owner, org, team, pg_broker, django_assert_num_queries):
    broker, _ = register(owner, org, pg_broker)
    broker = Broker.objects.select_related("owner_team", "created_by").get(pk=broker.pk)
    synced_at = broker.last_sync_at
    # reads: the types, their plans, their versions (+ the savepoint); no write at all
    with django_assert_num_queries(5) as ctx:
        assert brokers.sync_broker(broker) == {"created": 0, "updated": 0, "removed": 0}
    writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == []
    assert Broker.objects.get(pk=broker.pk).last_sync_at == synced_at  # the catalog did not change
    # When it was last checked is the latest sync operation's end.
    op = brokers.request_sync(actor=owner, broker=broker)
    operations.execute(op.pk)
    op.refresh_from_db()
    assert op.state == "succeeded" and brokers.last_checked(broker) == op.finished_at > synced_at


def test_sync_all_starts_an_operation_per_broker(owner, org, team, pg_broker):
    broker, _ = register(owner, org, pg_broker)
    started = brokers.sync_all()
    op = Operation.objects.get(pk=started["pg"])
    assert (op.kind, op.target_id, op.state) == ("broker.sync", str(broker.pk), "pending")
    assert operations.execute(op.pk) == "succeeded"


def test_dropped_offerings_and_plans_are_marked_removed_never_deleted(owner, org, team, pg_broker):
    broker, _ = register(owner, org, pg_broker)
    with broker.client() as client:
        full = client.catalog()
    offering = full.services[0]
    only_small = Catalog(services=(type(offering)(**{**offering.__dict__, "plans": offering.plans[:1]}),))
    assert brokers.apply_catalog(broker, only_small) == {"created": 0, "updated": 0, "removed": 1}
    assert Plan.objects.get(slug="large").removed_from_broker
    assert brokers.apply_catalog(broker, Catalog(services=())) == {"created": 0, "updated": 0, "removed": 1}
    assert ServiceType.objects.get(broker=broker).removed_from_broker
    assert brokers.apply_catalog(broker, full)["updated"] >= 1  # back: no longer removed
    assert not ServiceType.objects.get(broker=broker).removed_from_broker
    assert not Plan.objects.get(slug="large").removed_from_broker
    assert Plan.objects.count() == 2 and ServiceType.objects.count() == 1


def test_sync_errors_are_stored_on_the_broker(owner, org, team, pg_broker):
    broker, op = brokers.register_broker(
        actor=owner, org=org, name="pg", url=pg_broker.url, username=USERNAME, secret="wrong-password"
    )
    operations.execute(op.pk)
    op = Operation.objects.get(pk=op.pk)
    assert op.state == "failed" and "401" in op.error
    broker.refresh_from_db()
    assert broker.sync_state == "failed" and "401" in broker.last_sync_error
    listed = api_client_for(owner).get("/api/v1/brokers/").json()["results"][0]
    assert listed["sync_state"] == "failed" and "401" in listed["last_sync_error"]


def test_global_brokers_are_for_staff(owner, team, pg_broker):
    with pytest.raises(PermissionDenied):
        brokers.register_broker(actor=owner, org=None, name="pg", url=pg_broker.url, username=USERNAME, secret="x")
    owner.is_staff = True
    broker, op = brokers.register_broker(
        actor=owner, org=None, name="pg", url=pg_broker.url, username=USERNAME, secret=PASSWORD, owner_team=team
    )
    operations.execute(op.pk)
    assert ServiceType.objects.get(broker=broker).visibility == "public"


# --- API --------------------------------------------------------------------------------------


def test_api_register_list_sync_remove(owner, org, team, pg_broker):
    api = api_client_for(owner)
    body = {"name": "pg", "url": pg_broker.url, "username": USERNAME, "password": PASSWORD}
    created = api.post("/api/v1/brokers/", body, format="json")
    assert created.status_code == 201, created.content
    assert "password" not in created.json() and PASSWORD not in created.content.decode()
    broker_id = created.json()["id"]
    operations.execute(created.json()["operation"])
    detail = api.get(f"/api/v1/brokers/{broker_id}/").json()
    assert detail["sync_state"] == "ready" and detail["types"] == [
        {"slug": "pg-postgresql", "name": "PostgreSQL", "removed": False}
    ]
    synced = api.post(f"/api/v1/brokers/{broker_id}/sync/")
    assert synced.status_code == 202 and synced.json()["kind"] == "broker.sync"
    types = api.get("/api/v1/types/", {"source": "broker"}).json()["results"]
    assert [t["slug"] for t in types] == ["pg-postgresql"]
    assert api.delete(f"/api/v1/brokers/{broker_id}/").status_code == 204
    assert ServiceType.objects.get().removed_from_broker


@pytest.mark.parametrize(
    "persona, expect",
    [
        ("owner", {"list": 1, "detail": 200, "sync": 202, "create": 201, "delete": 204}),
        ("teammate", {"list": 1, "detail": 200, "sync": 403, "create": 403, "delete": 403}),
        ("outsider", {"list": 0, "detail": 404, "sync": 404, "create": 404, "delete": 404}),
        ("anonymous", {"list": None, "detail": 401, "sync": 401, "create": 401, "delete": 401}),
    ],
)
def test_api_permissions(request, persona, expect, owner, org, team, teammate, outsider, pg_broker):
    broker, _ = register(owner, org, pg_broker)
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    api = api_client_for(user)
    listed = api.get("/api/v1/brokers/")
    if expect["list"] is None:
        assert listed.status_code == 401
    else:
        assert listed.status_code == 200 and len(listed.json()["results"]) == expect["list"]
    assert api.get(f"/api/v1/brokers/{broker.pk}/").status_code == expect["detail"]
    assert api.post(f"/api/v1/brokers/{broker.pk}/sync/").status_code == expect["sync"]
    body = {"name": "pg2", "url": pg_broker.url, "username": USERNAME, "password": PASSWORD, "org": "acme"}
    assert api.post("/api/v1/brokers/", body, format="json").status_code == expect["create"]
    assert api.delete(f"/api/v1/brokers/{broker.pk}/").status_code == expect["delete"]
