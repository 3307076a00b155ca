"""Catalog pages through the Django test client: browse, create, publish, deploy form, import, sharing."""

from __future__ import annotations

import html as html_lib
import json
import re

import pytest

from catalog import services
from catalog.demo import CHAT_MANIFESTS, CHAT_SCHEMA
from catalog.models import RegisteredService, ServiceType, TypeVersion
from catalog.tests.conftest import make_chat
from portal.models import AuditEvent

PASSWORD = "correct horse battery"
CHAT_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: chat, namespace: default, uid: abc, resourceVersion: "1"}
spec:
  replicas: 2
  selector: {matchLabels: {app: chat}}
  template:
    metadata: {labels: {app: chat}}
    spec:
      containers:
      - name: chat
        image: registry.acme.example/chat:1.4.2
        env: [{name: LOG_LEVEL, value: info}]
        resources: {limits: {cpu: 500m}}
---
apiVersion: v1
kind: Service
metadata: {name: chat}
spec:
  clusterIP: 10.0.0.12
  selector: {app: chat}
  ports: [{port: 80, targetPort: 3000}]
status: {loadBalancer: {}}
"""


@pytest.fixture
def web(client, owner):
    client.force_login(owner)
    return client


def test_catalog_grid_search_and_filters(web, owner, org, team):
    make_chat(owner, org, team)
    make_chat(owner, org, team, slug="rabbit", name="RabbitMQ", description="Message queue", tags=["amqp"])
    html = web.get("/catalog/").content.decode()
    assert 'data-type="chat"' in html and 'data-type="rabbit"' in html and "2 types" in html
    response = web.get("/catalog/", {"q": "queue"}, HTTP_HX_REQUEST="true")
    fragment = response.content.decode()
    assert '<nav class="navbar' not in fragment  # the htmx fragment only
    assert 'data-type="rabbit"' in fragment and 'data-type="chat"' not in fragment
    assert 'data-type="chat"' in web.get("/catalog/", {"q": "nodejs"}).content.decode()
    assert "No type matches" in web.get("/catalog/", {"q": "zzz"}).content.decode()
    assert 'data-type="chat"' in web.get("/catalog/", {"owner": "acme/chat", "visibility": "org"}).content.decode()


def test_empty_catalog_says_what_to_do(web):
    html = web.get("/catalog/").content.decode()
    assert "No service types yet" in html and "sbay types import" in html


def test_type_page(web, chat):
    html = web.get("/catalog/chat/").content.decode()
    assert 'id="deploy-button"' in html and "sbay provision chat NAME --plan small" in html
    assert 'data-parameter="resources.limits.cpu"' in html and 'data-plan="large"' in html
    assert 'data-version="1.0.0"' in html and "admin_password" in html
    assert 'id="sharing"' in html  # owners see the sharing form


def test_pages_are_404_for_who_may_not_see_and_403_for_who_may_not_edit(client, chat, outsider, teammate):
    client.force_login(outsider)
    for url in ("/catalog/chat/", "/catalog/chat/deploy/", "/catalog/chat/versions/1.0.0/", "/catalog/chat/edit/"):
        assert client.get(url).status_code == 404, url
    client.force_login(teammate)
    assert client.get("/catalog/chat/").status_code == 200
    assert 'id="sharing"' not in client.get("/catalog/chat/").content.decode()
    for url in ("/catalog/chat/edit/", "/catalog/chat/versions/new/", "/catalog/chat/plans/new/"):
        assert client.get(url).status_code == 403, url
    assert client.post("/catalog/chat/share/", {"visibility": "public"}).status_code == 403
    assert ServiceType.objects.get(slug="chat").visibility == "org"


def test_deploy_form(web, chat):
    html = web.get("/catalog/chat/deploy/?plan=small").content.decode()
    assert 'name="resources.limits.cpu"' in html and 'data-fieldset="Resources › Limits"' in html
    assert 'name="replicas"' in html and "disabled" in html and 'type="password"' in html
    response = web.post(
        "/catalog/chat/deploy/?plan=large",
        {
            "_instance_name": "chat-prod",
            "replicas": "20",
            "admin_password": "short",
            "image_tag": "1.4.2",
            "log_level": "info",
            "port": "80",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-field="replicas"' in html and "Must be at most 10." in html
    assert 'data-field="admin_password"' in html and 'value="short"' not in html  # a secret is never echoed
    response = web.post(
        "/catalog/chat/deploy/?plan=large",
        {
            "_instance_name": "chat-prod",
            "replicas": "4",
            "admin_password": PASSWORD,
            "image_tag": "1.5.0",
            "log_level": "warn",
            "port": "80",
        },
    )
    html = response.content.decode()
    # Valid parameters, but the org has no cluster yet: said next to the cluster choice; nothing is created.
    assert 'data-field="cluster"' in html and "has no cluster yet" in html and PASSWORD not in html
    from instances.models import Instance

    assert not Instance.objects.exists()


def test_create_type_version_plan_and_publish_through_pages(web, owner):
    response = web.post(
        "/catalog/new/",
        {
            "name": "Chat",
            "slug": "chat",
            "owner_team": owner.memberships.get().teams.get().pk,
            "icon": "chat-dots",
            "tags": "chat, nodejs",
            "visibility": "org",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/catalog/chat/versions/new/"
    form = web.get("/catalog/chat/versions/new/").content.decode()
    assert 'value="1.0.0"' in form
    response = web.post(
        "/catalog/chat/versions/new/",
        {
            "version": "1.0.0",
            "manifests_template": CHAT_MANIFESTS.replace("parameters.port", "parameters.prot"),
            "parameter_schema": json.dumps(CHAT_SCHEMA),
        },
    )
    assert response.status_code == 302
    response = web.post(
        "/catalog/chat/versions/1.0.0/",
        {
            "action": "publish",
            "manifests_template": CHAT_MANIFESTS.replace("parameters.port", "parameters.prot"),
            "parameter_schema": json.dumps(CHAT_SCHEMA),
        },
    )
    html = response.content.decode()
    assert 'id="publish-problems"' in html and "prot" in html
    assert TypeVersion.objects.get(version="1.0.0").state == "draft"
    yaml_schema = (
        "type: object\nrequired: [admin_password]\nproperties:\n"
        "  port: {type: integer, default: 80}\n"
        "  admin_password: {type: string, writeOnly: true}\n"
        "  image_tag: {type: string, default: '1'}\n"
        "  log_level: {type: string, default: info}\n"
        "  replicas: {type: integer, default: 1}\n"
        "  resources: {type: object, default: {}}\n"
    )
    response = web.post(
        "/catalog/chat/versions/1.0.0/",
        {"action": "publish", "manifests_template": CHAT_MANIFESTS, "parameter_schema": yaml_schema},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert TypeVersion.objects.get(version="1.0.0").state == "published"
    response = web.post(
        "/catalog/chat/plans/new/", {"name": "Big", "slug": "big", "values": "replicas: 3", "locked": "replicas"}
    )
    assert response.status_code == 302
    response = web.post(
        "/catalog/chat/plans/new/", {"name": "Bad", "slug": "bad", "values": "replicas: [", "locked": ""}
    )
    assert 'data-field="values"' in response.content.decode()
    html = web.get("/catalog/chat/versions/1.0.0/").content.decode()
    assert 'id="manifests"' in html and "Save draft" not in html


def test_import_wizard_from_yaml(web, owner):
    html = web.get("/catalog/import/").content.decode()
    assert "No cluster is registered" in html
    response = web.post("/catalog/import/", {"step": "yaml", "yaml_text": CHAT_YAML})
    html = response.content.decode()
    assert 'data-proposal="replicas"' in html and 'data-proposal="image_tag"' in html
    assert 'data-proposal="env.LOG_LEVEL"' in html and 'data-proposal="resources.limits.cpu"' in html
    assert "clusterIP" not in html.split("<details")[1]  # stripped
    objects = re.search(r'name="objects" value="([^"]*)"', html).group(1)
    response = web.post(
        "/catalog/import/",
        {
            "step": "create",
            "objects": html_lib.unescape(objects),
            "base_name": "chat",
            "name": "Chat",
            "slug": "chat",
            "owner_team": owner.memberships.get().teams.get().pk,
            "icon": "chat-dots",
            "visibility": "team",
            "param": ["replicas", "image_tag"],
            "minimum:replicas": "1",
            "maximum:replicas": "4",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/catalog/chat/versions/1.0.0/"
    version = TypeVersion.objects.get(type__slug="chat")
    assert set(version.parameter_schema["properties"]) == {"replicas", "image_tag"}
    assert version.parameter_schema["properties"]["replicas"]["maximum"] == 4
    assert AuditEvent.objects.filter(action="type.import").exists()


def test_import_wizard_rejects_bad_yaml(web):
    for text, fragment in (
        ("a: &x [1]\nb: *x\n", "aliases"),
        ("kind: Deployment\n", "apiVersion"),
        ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "Nothing to import"),
    ):
        html = web.post("/catalog/import/", {"step": "yaml", "yaml_text": text}).content.decode()
        assert fragment in html, fragment
    from django.core.files.uploadedfile import SimpleUploadedFile

    big = SimpleUploadedFile("big.yaml", b"a: " + b"x" * (1024 * 1024 + 10))
    assert "larger than 1024 KiB" in web.post("/catalog/import/", {"step": "yaml", "yaml_file": big}).content.decode()


def test_register_an_external_service(web, owner, teammate, client):
    response = web.post(
        "/catalog/services/new/",
        {
            "name": "Legacy CRM",
            "slug": "crm",
            "owner_team": owner.memberships.get().teams.get().pk,
            "kind": "external",
            "host": "crm.acme.example",
            "port": "8443",
            "visibility": "org",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/catalog/services/acme/crm/"
    html = web.get("/catalog/services/").content.decode()
    assert "crm.acme.example:8443" in html
    assert "crm.acme.example:8443" in web.get("/catalog/services/acme/crm/").content.decode()
    response = web.post(
        "/catalog/services/new/",
        {
            "name": "X",
            "slug": "x",
            "owner_team": owner.memberships.get().teams.get().pk,
            "kind": "external",
            "host": "",
            "visibility": "org",
        },
    )
    assert 'data-field="host"' in response.content.decode()
    web.post("/catalog/services/acme/crm/", {"action": "share", "visibility": "team"})
    assert RegisteredService.objects.get().visibility == "team"
    client.force_login(teammate)
    assert client.get("/catalog/services/acme/crm/").status_code == 404


# --- query counts ---------------------------------------------------------------------------

# session, user, the shell (membership, memberships, unread count), ownership (2), then the page:
# catalog: count, rows, versions, plans, shared-with, owner filter; type page: type, versions,
# plans, shared-with, audit; deploy form: type, versions, plans.
PINNED = {"catalog page": 14, "search": 14, "type page": 13, "deploy form": 12}


def count_queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("n", [1, 15])
def test_catalog_page_queries_are_pinned(n, web, owner, org, team, other_org):
    for i in range(n):
        shared = i % 3 == 0
        make_chat(
            owner,
            org,
            team,
            slug=f"chat-{i}",
            shared_with=[other_org] if shared else None,
            visibility="orgs" if shared else "org",
        )
    counts = {
        "catalog page": count_queries(web, "/catalog/"),
        "search": count_queries(web, "/catalog/?q=chat+nodejs&owner=acme/chat"),
    }
    assert counts == {k: PINNED[k] for k in counts}
    assert web.get("/catalog/").content.decode().count('class="card h-100 type-card"') == n


@pytest.mark.parametrize("n", [1, 8])
def test_type_page_and_deploy_form_queries_are_pinned(n, web, owner, org, team):
    type_ = make_chat(owner, org, team)
    for i in range(n):
        version = services.create_version(
            actor=owner, type_=type_, version=f"1.{i + 1}.0", copy_from=type_.versions.last()
        )
        services.publish_version(actor=owner, version=version)
        services.create_plan(actor=owner, type_=type_, slug=f"p{i}", name=f"P{i}", values={"replicas": 2})
    counts = {
        "type page": count_queries(web, "/catalog/chat/"),
        "deploy form": count_queries(web, "/catalog/chat/deploy/?plan=large"),
    }
    assert counts == {k: PINNED[k] for k in counts}
    assert web.get("/catalog/chat/").content.decode().count("data-version=") == n + 1
