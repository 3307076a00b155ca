"""The brokers pages (/catalog/brokers/) through the Django test client: list with sync state and counts,
detail with removed offerings/plans and maintenance_info, register form with field errors, sync-now and
remove for admins only; owner / teammate / outsider personas; pinned query counts."""

from __future__ import annotations

import pytest
from django.utils import timezone

from catalog import brokers
from catalog.models import Broker, Plan, ServiceType
from conftest import make_user
from osb.models import Catalog
from osb.tests.fault_broker import FaultBroker
from portal import operations
from portal.models import Operation


def offering(n: int, plans: int = 2, version: str = "1.0.0") -> dict:
    return {
        "id": f"svc-{n}",
        "name": f"offering-{n}",
        "description": f"Offering {n}",
        "bindable": True,
        "plans": [
            {
                "id": f"svc-{n}-plan-{p}",
                "name": f"plan-{p}",
                "description": f"Plan {p}",
                "maintenance_info": {"version": version, "description": f"level {version}"},
            }
            for p in range(plans)
        ],
    }


def make_broker(org, team, owner, name="acme-broker", offerings=1, error="") -> Broker:
    broker = Broker.objects.create(
        org=org, owner_team=team, name=name, url="http://127.0.0.1:9/", username="u", secret="s", created_by=owner
    )
    brokers.apply_catalog(broker, Catalog.from_json({"services": [offering(n) for n in range(offerings)]}))
    Broker.objects.filter(pk=broker.pk).update(last_sync_at=timezone.now(), last_sync_error=error)
    return Broker.objects.get(pk=broker.pk)


@pytest.fixture
def fault():
    broker = FaultBroker().start()
    broker.reply("GET", "/v2/catalog", 200, {"services": [offering(0), offering(1, plans=3)]})
    yield broker
    broker.stop()


def test_list_shows_state_last_check_error_and_counts(client, owner, org, team):
    make_broker(org, team, owner, offerings=2)
    make_broker(org, team, owner, name="broken", error="GET /v2/catalog: 401 Unauthorized")
    client.force_login(owner)
    page = client.get("/catalog/brokers/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-broker="acme-broker"' in html and 'data-broker="broken"' in html
    assert "401 Unauthorized" in html and "sync failed" in html
    assert '<td class="text-end offering-count">2</td>' in html and '<td class="text-end plan-count">4</td>' in html
    assert 'href="/catalog/brokers/new/"' in html and 'id="nav-brokers"' in html


@pytest.mark.parametrize("count", [1, 8])
def test_list_query_count_does_not_grow_with_brokers(client, owner, org, team, count, django_assert_max_num_queries):
    for n in range(count):
        make_broker(org, team, owner, name=f"b{n}", offerings=2)
    client.force_login(owner)
    with django_assert_max_num_queries(12):
        assert client.get("/catalog/brokers/").status_code == 200


@pytest.mark.parametrize("offerings", [1, 6])
def test_detail_query_count(client, owner, org, team, offerings, django_assert_max_num_queries):
    broker = make_broker(org, team, owner, offerings=offerings)
    client.force_login(owner)
    with django_assert_max_num_queries(13):
        assert client.get(f"/catalog/brokers/{broker.pk}/").status_code == 200


def test_outsider_sees_neither_list_row_nor_page(client, owner, org, team, outsider):
    broker = make_broker(org, team, owner)
    client.force_login(outsider)
    assert 'data-broker="acme-broker"' not in client.get("/catalog/brokers/").content.decode()
    assert client.get(f"/catalog/brokers/{broker.pk}/").status_code == 404
    assert client.post(f"/catalog/brokers/{broker.pk}/", {"action": "sync"}).status_code == 404
    assert client.post(f"/catalog/brokers/{broker.pk}/", {"action": "remove"}).status_code == 404
    assert Broker.objects.filter(pk=broker.pk).exists()


def test_global_brokers_are_listed_for_everyone(client, owner, org, team, outsider):
    broker = make_broker(org, team, owner, name="everyone")
    Broker.objects.filter(pk=broker.pk).update(org=None)
    client.force_login(outsider)
    assert 'data-broker="everyone"' in client.get("/catalog/brokers/").content.decode()
    page = client.get(f"/catalog/brokers/{broker.pk}/").content.decode()
    assert 'id="sync-now"' not in page  # only staff manage global brokers


def test_detail_shows_removed_offerings_plans_and_maintenance_info(client, owner, org, team):
    broker = make_broker(org, team, owner, offerings=2)
    # The broker drops offering 1 and plan-1 of offering 0.
    brokers.apply_catalog(broker, Catalog.from_json({"services": [{**offering(0), "plans": offering(0)["plans"][:1]}]}))
    client.force_login(owner)
    html = client.get(f"/catalog/brokers/{broker.pk}/").content.decode()
    assert html.count("removed from the broker's catalog") == 2  # offering 1, and plan-1 of offering 0
    gone = ServiceType.objects.get(broker=broker, broker_service_id="svc-1")
    assert gone.removed_from_broker and Plan.objects.get(broker_plan_id="svc-0-plan-1").removed_from_broker
    assert '<span class="maintenance-version">1.0.0</span>' in html and "level 1.0.0" in html
    assert 'id="sync-now"' in html and 'id="remove-broker"' in html


def test_teammate_sees_the_broker_but_cannot_sync_remove_or_register(client, owner, org, team, teammate):
    broker = make_broker(org, team, owner)
    client.force_login(teammate)
    html = client.get(f"/catalog/brokers/{broker.pk}/").content.decode()
    assert 'id="sync-now"' not in html and 'id="remove-broker"' not in html
    assert client.post(f"/catalog/brokers/{broker.pk}/", {"action": "sync"}).status_code == 403
    assert client.post(f"/catalog/brokers/{broker.pk}/", {"action": "remove"}).status_code == 403
    assert 'href="/catalog/brokers/new/"' not in client.get("/catalog/brokers/").content.decode()
    assert client.get("/catalog/brokers/new/").status_code == 403
    assert not Operation.objects.filter(kind="broker.sync").exists()


def test_sync_now_starts_an_operation_and_the_page_shows_the_check(client, owner, org, team, fault):
    broker = make_broker(org, team, owner)
    Broker.objects.filter(pk=broker.pk).update(url=fault.url)
    client.force_login(owner)
    response = client.post(f"/catalog/brokers/{broker.pk}/", {"action": "sync"})
    op = Operation.objects.get(kind="broker.sync", target_id=str(broker.pk))
    assert response.status_code == 302 and response["Location"] == op.get_absolute_url()
    operations.execute(op.pk)
    op.refresh_from_db()
    assert op.state == "succeeded", op.error
    html = client.get(f"/catalog/brokers/{broker.pk}/").content.decode()
    assert str(timezone.localtime(op.finished_at).year) in html and "never" not in html


def test_register_form_field_errors(client, owner, org, team):
    client.force_login(owner)
    html = client.get("/catalog/brokers/new/").content.decode()
    assert 'value="global"' not in html  # not staff: no global scope offered
    bad = {"name": "Bad Name!", "url": "not a url", "auth_kind": "basic", "scope": "org"}
    html = client.post("/catalog/brokers/new/", bad).content.decode()
    assert 'data-field="url"' in html
    bad = {"name": "Bad Name!", "url": "http://127.0.0.1:9", "auth_kind": "basic", "scope": "org"}
    html = client.post("/catalog/brokers/new/", bad).content.decode()
    assert 'data-field="name"' in html  # the model's validator, via the service
    missing_user = {"name": "ok-name", "url": "http://127.0.0.1:9", "auth_kind": "basic", "scope": "org"}
    html = client.post("/catalog/brokers/new/", missing_user).content.decode()
    assert 'data-field="username"' in html and "Basic auth needs a username" in html
    sneaky = {**missing_user, "username": "u", "scope": "global"}
    html = client.post("/catalog/brokers/new/", sneaky).content.decode()
    assert 'data-field="scope"' in html
    in_url = {**missing_user, "username": "u", "url": "http://u:hunter2@127.0.0.1:9"}
    html = client.post("/catalog/brokers/new/", in_url).content.decode()
    assert 'data-field="url"' in html and "no user name or password in the URL" in html
    assert not Broker.objects.exists()


def test_register_through_the_form_syncs_the_catalog(client, owner, org, team, fault):
    client.force_login(owner)
    body = {
        "name": "vendor",
        "url": fault.url,
        "auth_kind": "basic",
        "username": "u",
        "secret": "s3cret-Broker-Pass",
        "scope": "org",
    }
    response = client.post("/catalog/brokers/new/", body)
    broker = Broker.objects.get(name="vendor")
    assert response.status_code == 302 and response["Location"] == f"/catalog/brokers/{broker.pk}/"
    assert broker.org == org and broker.secret == "s3cret-Broker-Pass" and broker.owner_team == team
    operations.execute(Operation.objects.get(kind="broker.sync").pk)
    html = client.get(f"/catalog/brokers/{broker.pk}/").content.decode()
    assert 'data-offering="svc-0"' in html and 'data-offering="svc-1"' in html and "s3cret-Broker-Pass" not in html
    row = client.get("/catalog/brokers/").content.decode()
    assert '<td class="text-end offering-count">2</td>' in row and '<td class="text-end plan-count">5</td>' in row


def test_staff_register_a_global_broker(client, org, team, fault):
    staff = make_user("staffer", is_staff=True)
    from portal.models import Membership, Role

    Membership.objects.create(org=org, user=staff, role=Role.ADMIN)
    client.force_login(staff)
    body = {"name": "world", "url": fault.url, "auth_kind": "bearer", "secret": "tok", "scope": "global"}
    assert client.post("/catalog/brokers/new/", body).status_code == 302
    broker = Broker.objects.get(name="world")
    assert broker.org is None and broker.auth_kind == "bearer" and broker.owner_team == team


def test_remove(client, owner, org, team):
    broker = make_broker(org, team, owner)
    client.force_login(owner)
    response = client.post(f"/catalog/brokers/{broker.pk}/", {"action": "remove"})
    assert response.status_code == 302 and response["Location"] == "/catalog/brokers/"
    assert not Broker.objects.filter(pk=broker.pk).exists()
    assert ServiceType.objects.get().removed_from_broker
