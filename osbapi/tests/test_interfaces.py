"""Platform credentials and "available over OSB" through the UI, the REST API (with its permission
table) and the CLI; OSB-made instances show their platform in the instance pages."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from catalog.models import ServiceType
from catalog.tests.conftest import make_chat
from conftest import PASSWORD, api_client_for
from osbapi.models import PlatformCredential
from osbapi.tests.conftest import new_id
from portal.models import AuditEvent
from sbay.tests.test_types_cli import cli, sbay  # noqa: F401 (fixtures)


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_admin_creates_a_platform_on_the_page_and_sees_the_secret_once(owner, org):
    page = login(owner)
    response = page.post("/platforms/", {"name": "cf-prod", "description": "Cloud Foundry"})
    assert response.status_code == 200
    platform = PlatformCredential.objects.get()
    html = response.content.decode()
    assert 'id="new-secret"' in html and platform.username in html and "/osb" in html
    secret = html.split('id="secret">')[1].split("<")[0]
    assert len(secret) > 30 and secret not in platform.secret_hash
    again = page.get("/platforms/").content.decode()
    assert secret not in again and 'data-platform="cf-prod"' in again
    response = page.post(f"/platforms/{platform.pk}/revoke/")
    assert response.status_code == 302
    assert PlatformCredential.objects.get().revoked_at is not None


def test_developers_see_platforms_but_cannot_create_them(teammate, owner, org):
    page = login(teammate)
    assert "Add a platform" not in page.get("/platforms/").content.decode()
    page.post("/platforms/", {"name": "sneaky"})
    assert not PlatformCredential.objects.exists()


def test_type_owner_toggles_osb_on_the_type_page(owner, org, team, teammate):
    chat = make_chat(owner, org, team)
    page = login(owner)
    assert 'id="osb-toggle"' in page.get(f"/catalog/{chat.slug}/").content.decode()
    page.post(f"/catalog/{chat.slug}/osb/", {"osb_enabled": "1"})
    assert ServiceType.objects.get(pk=chat.pk).osb_enabled
    assert AuditEvent.objects.filter(action="type.osb").exists()
    page.post(f"/catalog/{chat.slug}/osb/", {"osb_enabled": "0"})
    assert not ServiceType.objects.get(pk=chat.pk).osb_enabled
    # a developer outside the owning team cannot
    login(teammate).post(f"/catalog/{chat.slug}/osb/", {"osb_enabled": "1"})
    assert not ServiceType.objects.get(pk=chat.pk).osb_enabled


def test_unpublished_types_cannot_be_offered(owner, org, team, api):
    chat = make_chat(owner, org, team, publish=False)
    response = api.post(f"/api/v1/types/{chat.slug}/osb/", {"enabled": True}, format="json")
    assert response.status_code == 400 and "osb_enabled" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("persona", "list_status", "create_status", "revoke_status", "toggle_status"),
    [
        ("owner", 200, 201, 200, 200),
        ("teammate", 200, 403, 403, 403),
        ("viewer", 200, 403, 403, 403),
        ("outsider", 200, 404, 404, 404),
        (None, 401, 401, 401, 401),
    ],
)
def test_api_permission_table(
    request, persona, list_status, create_status, revoke_status, toggle_status, owner, org, team, teammate, viewer
):
    make_chat(owner, org, team)
    existing = api_client_for(owner).post("/api/v1/platforms/", {"name": "existing"}, format="json").json()
    user = request.getfixturevalue(persona) if persona else None
    client = api_client_for(user)
    headers = {"HTTP_X_SERVICEBAY_ORG": "acme"} if persona else {}
    listed = client.get("/api/v1/platforms/", **headers)
    assert listed.status_code == list_status
    if persona == "outsider":
        assert listed.json()["results"] == []
    created = client.post("/api/v1/platforms/", {"name": "cf"}, format="json", **headers)
    assert created.status_code == create_status, created.content
    if create_status == 201:
        assert created.json()["secret"] and "secret" not in client.get("/api/v1/platforms/").json()["results"][0]
    revoked = client.post(f"/api/v1/platforms/{existing['id']}/revoke/", **headers)
    assert revoked.status_code == revoke_status
    toggled = client.post("/api/v1/types/chat/osb/", {"enabled": True}, format="json", **headers)
    assert toggled.status_code == toggle_status


@pytest.mark.parametrize("rows", [1, 5])
def test_platform_list_query_count(owner, org, api, rows, django_assert_max_num_queries):
    from osbapi import services

    for i in range(rows):
        services.create_platform_credential(actor=owner, org=org, name=f"p{i}")
    with django_assert_max_num_queries(12):
        response = api.get("/api/v1/platforms/")
    assert response.json()["count"] == rows


def test_cli_platforms_and_offer(sbay, owner, org, team):  # noqa: F811
    make_chat(owner, org, team)
    code, out, err = sbay("platforms", "offer", "chat")
    assert code == 0, err
    assert "available to other platforms over OSB" in out and ServiceType.objects.get(slug="chat").osb_enabled
    code, out, err = sbay("platforms", "create", "cf-prod", "--description", "CF")
    assert code == 0, err
    platform = PlatformCredential.objects.get()
    secret = out.split("secret")[1].split()[0]
    assert platform.username in out and "/osb" in out and secret not in platform.secret_hash
    code, out, err = sbay("platforms", "list", "-o", "json")
    assert code == 0, err
    assert json.loads(out)[0]["name"] == "cf-prod" and secret not in out
    code, out, err = sbay("platforms", "revoke", "cf-prod")
    assert code == 0, err
    assert PlatformCredential.objects.get().revoked_at is not None
    code, out, err = sbay("platforms", "withdraw", "chat")
    assert code == 0 and not ServiceType.objects.get(slug="chat").osb_enabled


def test_osb_instances_show_their_platform_in_the_ui(osb, platform, owner, cluster):
    iid = new_id()
    assert osb.provision(iid).status_code == 202
    page = login(owner)
    listing = page.get("/instances/").content.decode()
    assert "cf-prod" in listing and "?platform=cf-prod" in listing
    assert "cf-prod" in page.get("/instances/?platform=cf-prod").content.decode()
    assert 'data-instance="' not in page.get("/instances/?platform=other").content.decode()
    instance = platform.instances.get()
    detail = page.get(f"/instances/{instance.pk}/").content.decode()
    assert 'id="osb-platform"' in detail and iid in detail and "Provisioning" in detail
    assert page.get("/platforms/").content.decode().count('href="/instances/?platform=cf-prod">1<') == 1
