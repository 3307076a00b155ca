"""The catalog REST API: behaviour, visibility everywhere, permission table, query counts."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from catalog import services
from catalog.demo import CHAT_MANIFESTS, CHAT_SCHEMA
from catalog.models import Plan, TypeVersion
from catalog.tests.conftest import make_chat
from conftest import api_client_for, make_user
from portal.models import AuditEvent, Membership, Organization, Role, Team

PASSWORD = "correct horse battery"


def error(response) -> dict:
    return response.json()["error"]


# --- visibility -----------------------------------------------------------------------------


@pytest.fixture
def shared_world(owner, org, team, other_org, teammate, viewer, outsider):
    """One type per visibility, plus a draft-only type; and a third org's member."""
    make_chat(owner, org, team, slug="t-team", visibility="team", name="Team only")
    make_chat(owner, org, team, slug="t-org", visibility="org", name="Org wide")
    make_chat(owner, org, team, slug="t-orgs", visibility="orgs", shared_with=[other_org], name="Shared with Globex")
    make_chat(owner, org, team, slug="t-public", visibility="public", name="Public")
    make_chat(owner, org, team, slug="t-draft", visibility="org", publish=False, name="Draft only")
    third = Organization.objects.create(slug="initech", name="Initech")
    stranger = make_user("stranger")
    Membership.objects.create(org=third, user=stranger, role=Role.ADMIN)
    return {"stranger": stranger}


VISIBLE = {
    # persona: slugs they see in lists (non-owners never see a type without a published version)
    "owner": {"t-team", "t-org", "t-orgs", "t-public", "t-draft"},
    "teammate": {"t-org", "t-orgs", "t-public"},
    "viewer": {"t-org", "t-orgs", "t-public"},
    "outsider": {"t-orgs", "t-public"},
    "stranger": {"t-public"},
}


@pytest.mark.parametrize("persona", list(VISIBLE))
def test_visibility_is_enforced_in_list_detail_validate_versions_and_plans(persona, shared_world, request):
    user = shared_world["stranger"] if persona == "stranger" else request.getfixturevalue(persona)
    client = api_client_for(user)
    listed = {row["slug"] for row in client.get("/api/v1/types/", {"page_size": 100}).json()["results"]}
    assert listed == VISIBLE[persona]
    for slug in ("t-team", "t-org", "t-orgs", "t-public", "t-draft"):
        expect = 200 if slug in VISIBLE[persona] else 404
        assert client.get(f"/api/v1/types/{slug}/").status_code == expect, slug
        assert client.get(f"/api/v1/types/{slug}/versions/").status_code == expect
        assert client.get(f"/api/v1/types/{slug}/plans/").status_code == expect
        response = client.post(
            f"/api/v1/types/{slug}/validate/", {"parameters": {"admin_password": PASSWORD}}, format="json"
        )
        assert response.status_code == (expect if slug != "t-draft" else 400 if expect == 200 else 404), slug


def test_outsider_sees_shared_type_but_cannot_change_it(shared_world, outsider):
    client = api_client_for(outsider)
    assert client.get("/api/v1/types/t-orgs/").json()["is_owner"] is False
    response = client.patch("/api/v1/types/t-orgs/", {"name": "Mine now"}, format="json")
    assert response.status_code == 403 and "Only developers of the Chat team" in error(response)["message"]
    assert client.post("/api/v1/types/t-orgs/versions/", {"version": "2.0.0"}, format="json").status_code == 403
    assert client.patch("/api/v1/types/t-team/", {"name": "x"}, format="json").status_code == 404


def test_drafts_are_hidden_from_non_owners(owner, org, team, teammate):
    type_ = make_chat(owner, org, team)
    services.create_version(actor=owner, type_=type_, version="1.1.0", copy_from=type_.versions.get())
    owner_versions = [v["version"] for v in api_client_for(owner).get("/api/v1/types/chat/versions/").json()["results"]]
    teammate_versions = [
        v["version"] for v in api_client_for(teammate).get("/api/v1/types/chat/versions/").json()["results"]
    ]
    assert owner_versions == ["1.1.0", "1.0.0"] and teammate_versions == ["1.0.0"]
    assert api_client_for(teammate).get("/api/v1/types/chat/versions/1.1.0/").status_code == 404
    assert api_client_for(teammate).get("/api/v1/types/chat/versions/latest/").json()["version"] == "1.0.0"


# --- behaviour ------------------------------------------------------------------------------


def test_search_and_filters(owner, org, team, other_org, outsider):
    make_chat(owner, org, team, slug="chat", tags=["chat", "nodejs"])
    make_chat(owner, org, team, slug="rabbit", name="RabbitMQ", description="Message queue", tags=["amqp"])
    ops = Team.objects.create(org=org, slug="ops", name="Ops")
    make_chat(
        owner, org, ops, slug="pg", name="PostgreSQL", description="SQL database", tags=["sql"], visibility="team"
    )
    api = api_client_for(owner)

    def slugs(**params):
        return [row["slug"] for row in api.get("/api/v1/types/", params).json()["results"]]

    assert slugs() == ["chat", "pg", "rabbit"]
    assert slugs(q="queue") == ["rabbit"]
    assert slugs(q="AMQP") == ["rabbit"]  # tags
    assert slugs(q="sql data") == ["pg"]
    assert slugs(owner="ops") == ["pg"] and slugs(owner="acme/chat") == ["chat", "rabbit"]
    assert slugs(visibility="team") == ["pg"] and slugs(source="broker") == []


def test_create_type_then_version_then_publish_over_the_api(api, owner):
    response = api.post(
        "/api/v1/types/",
        {"slug": "chat", "name": "Chat", "tags": ["chat"], "icon": "chat-dots", "visibility": "team"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["owner_team"] == "chat" and body["org"] == "acme" and body["latest_version"] is None
    response = api.post(
        "/api/v1/types/chat/versions/",
        {"version": "1.0.0", "manifests_template": CHAT_MANIFESTS, "parameter_schema": {"type": "object"}},
        format="json",
    )
    assert response.status_code == 201
    response = api.post("/api/v1/types/chat/versions/1.0.0/publish/")
    assert response.status_code == 400
    assert "manifests_template" in error(response)["fields"] and error(response)["code"] == "invalid"
    response = api.post("/api/v1/types/chat/versions/1.0.0/check/")
    assert response.json()["ok"] is False
    assert (
        api.patch("/api/v1/types/chat/versions/1.0.0/", {"parameter_schema": CHAT_SCHEMA}, format="json").status_code
        == 200
    )
    assert api.post("/api/v1/types/chat/versions/1.0.0/check/").json() == {"ok": True, "problems": {}}
    response = api.post("/api/v1/types/chat/versions/1.0.0/publish/")
    assert response.status_code == 200 and response.json()["state"] == "published"
    response = api.patch("/api/v1/types/chat/versions/1.0.0/", {"changelog": "edit"}, format="json")
    assert response.status_code == 400 and "cannot change" in error(response)["fields"]["state"][0]
    response = api.post("/api/v1/types/chat/versions/1.0.0/publish/")
    assert error(response)["fields"] == {"state": ["Version 1.0.0 is already published."]}
    response = api.post("/api/v1/types/", {"slug": "chat", "name": "Again"}, format="json")
    assert response.status_code == 400 and "already exists" in error(response)["fields"]["slug"][0]
    assert api.get("/api/v1/types/chat/").json()["cli_command"] == "sbay provision chat NAME"
    assert AuditEvent.objects.filter(action__in=["type.create", "version.create", "version.publish"]).count() == 3


def test_validate_endpoint(api, chat):
    response = api.post(
        "/api/v1/types/chat/validate/",
        {
            "plan": "small",
            "parameters": {"replicas": 2, "admin_password": "short", "resources": {"limits": {"cpu": "x"}}},
        },
        format="json",
    )
    assert response.status_code == 400
    fields = error(response)["fields"]
    assert set(fields) == {"/replicas", "/resources"} and "Locked by plan Small" in fields["/replicas"][0]
    response = api.post(
        "/api/v1/types/chat/validate/",
        {"plan": "large", "parameters": {"admin_password": "short", "resources": {"limits": {"cpu": "x"}}}},
        format="json",
    )
    assert set(error(response)["fields"]) == {"/resources"}
    response = api.post(
        "/api/v1/types/chat/validate/", {"parameters": {"admin_password": "short", "port": 0}}, format="json"
    )
    assert error(response)["fields"] == {
        "/admin_password": ["Must be at least 12 characters long."],
        "/port": ["Must be at least 1."],
    }
    response = api.post(
        "/api/v1/types/chat/validate/", {"plan": "large", "parameters": {"admin_password": PASSWORD}}, format="json"
    )
    body = response.json()
    assert response.status_code == 200 and body["version"] == "1.0.0" and body["plan"] == "large"
    assert body["values"]["replicas"] == 3 and body["values"]["admin_password"] == "********"
    assert api.post("/api/v1/types/chat/validate/", {"plan": "nope"}, format="json").status_code == 404
    assert api.post("/api/v1/types/chat/validate/", {"version": "9.9.9"}, format="json").status_code == 404


def test_render_endpoint_is_for_owners(api, chat, teammate):
    response = api.post(
        "/api/v1/types/chat/versions/1.0.0/render/",
        {"parameters": {"admin_password": PASSWORD}, "instance_name": "demo"},
        format="json",
    )
    assert response.status_code == 200
    assert [o["metadata"]["name"] for o in response.json()["objects"]] == ["demo", "demo-admin", "demo"]
    assert (
        api_client_for(teammate).post("/api/v1/types/chat/versions/1.0.0/render/", {}, format="json").status_code == 403
    )


def test_plans_over_the_api(api, chat, teammate):
    rows = api.get("/api/v1/types/chat/plans/").json()["results"]
    assert [p["slug"] for p in rows] == ["small", "large"] and rows[0]["locked"] == ["replicas", "resources"]
    response = api.post("/api/v1/types/chat/plans/", {"slug": "medium", "values": {"replicas": 2}}, format="json")
    assert response.status_code == 201 and response.json()["name"] == "medium"
    response = api.patch("/api/v1/types/chat/plans/medium/", {"values": {"replicas": 20}}, format="json")
    assert response.status_code == 400 and error(response)["fields"]["values"] == ["/replicas: Must be at most 10."]
    assert api.patch("/api/v1/types/chat/plans/medium/", {"locked": ["replicas"]}, format="json").json()["locked"] == [
        "replicas"
    ]
    assert api_client_for(teammate).delete("/api/v1/types/chat/plans/medium/").status_code == 403
    assert api.delete("/api/v1/types/chat/plans/medium/").status_code == 204
    assert not Plan.objects.filter(slug="medium").exists()


def test_sharing_over_the_api(api, chat, other_org, outsider):
    assert api_client_for(outsider).get("/api/v1/types/chat/").status_code == 404
    response = api.patch("/api/v1/types/chat/", {"visibility": "orgs", "shared_with": ["globex"]}, format="json")
    assert response.status_code == 200 and response.json()["shared_with"] == ["globex"]
    assert api_client_for(outsider).get("/api/v1/types/chat/").status_code == 200
    response = api.patch("/api/v1/types/chat/", {"shared_with": ["nowhere"]}, format="json")
    assert error(response)["fields"] == {"shared_with": ["Unknown organization(s): nowhere."]}
    api.patch("/api/v1/types/chat/", {"visibility": "team", "shared_with": []}, format="json")
    assert api_client_for(outsider).get("/api/v1/types/chat/").status_code == 404
    assert [e.changes["visibility"] for e in AuditEvent.objects.filter(action="type.share").order_by("id")] == [
        ["org", "orgs"],
        ["orgs", "team"],
    ]


def test_bad_input(api, chat):
    response = api.post("/api/v1/types/chat/versions/", {"version": "2.0.0", "parameter_schema": [1]}, format="json")
    assert error(response)["fields"] == {"parameter_schema": ["The parameter schema must be a JSON object."]}
    response = api.post(
        "/api/v1/types/chat/versions/", {"version": "2.0.0", "manifests_template": "x" * 600_000}, format="json"
    )
    assert response.status_code in (400, 413)
    response = api.post("/api/v1/types/", {"slug": "x", "name": "X", "owner_team": "nope"}, format="json")
    assert error(response)["fields"] == {"owner_team": ["Acme Corp has no team 'nope'."]}
    assert TypeVersion.objects.filter(version="2.0.0").count() == 0


# --- permission table -----------------------------------------------------------------------


@dataclass
class Case:
    name: str
    method: str
    url: str
    expect: dict[str, int]  # persona -> status (anonymous: 401)
    data: dict = field(default_factory=dict)


ORG_TYPE = "/api/v1/types/chat"
CASES = [
    Case("type list", "get", "/api/v1/types/", {"owner": 200, "teammate": 200, "viewer": 200, "outsider": 200}),
    Case("type detail", "get", f"{ORG_TYPE}/", {"owner": 200, "teammate": 200, "viewer": 200, "outsider": 404}),
    Case(
        "type create",
        "post",
        "/api/v1/types/",
        {"owner": 201, "teammate": 400, "viewer": 403, "outsider": 400},
        {"slug": "new-type", "name": "New"},
    ),
    Case(
        "type update",
        "patch",
        f"{ORG_TYPE}/",
        {"owner": 200, "teammate": 403, "viewer": 403, "outsider": 404},
        {"name": "Renamed"},
    ),
    Case(
        "type share",
        "patch",
        f"{ORG_TYPE}/",
        {"owner": 200, "teammate": 403, "viewer": 403, "outsider": 404},
        {"visibility": "team"},
    ),
    Case(
        "validate",
        "post",
        f"{ORG_TYPE}/validate/",
        {"owner": 200, "teammate": 200, "viewer": 200, "outsider": 404},
        {"parameters": {"admin_password": PASSWORD}},
    ),
    Case(
        "version list", "get", f"{ORG_TYPE}/versions/", {"owner": 200, "teammate": 200, "viewer": 200, "outsider": 404}
    ),
    Case(
        "version detail",
        "get",
        f"{ORG_TYPE}/versions/1.0.0/",
        {"owner": 200, "teammate": 200, "viewer": 200, "outsider": 404},
    ),
    Case(
        "draft detail",
        "get",
        f"{ORG_TYPE}/versions/2.0.0/",
        {"owner": 200, "teammate": 404, "viewer": 404, "outsider": 404},
    ),
    Case(
        "version create",
        "post",
        f"{ORG_TYPE}/versions/",
        {"owner": 201, "teammate": 403, "viewer": 403, "outsider": 404},
        {"version": "3.0.0"},
    ),
    Case(
        "draft update",
        "patch",
        f"{ORG_TYPE}/versions/2.0.0/",
        {"owner": 200, "teammate": 404, "viewer": 404, "outsider": 404},
        {"changelog": "x"},
    ),
    Case(
        "published update",
        "patch",
        f"{ORG_TYPE}/versions/1.0.0/",
        {"owner": 400, "teammate": 403, "viewer": 403, "outsider": 404},
        {"changelog": "x"},
    ),
    Case(
        "version publish",
        "post",
        f"{ORG_TYPE}/versions/2.0.0/publish/",
        {"owner": 200, "teammate": 404, "viewer": 404, "outsider": 404},
    ),
    Case(
        "version deprecate",
        "post",
        f"{ORG_TYPE}/versions/1.0.0/deprecate/",
        {"owner": 200, "teammate": 403, "viewer": 403, "outsider": 404},
    ),
    Case(
        "version check",
        "post",
        f"{ORG_TYPE}/versions/1.0.0/check/",
        {"owner": 200, "teammate": 403, "viewer": 403, "outsider": 404},
    ),
    Case(
        "version render",
        "post",
        f"{ORG_TYPE}/versions/1.0.0/render/",
        {"owner": 200, "teammate": 403, "viewer": 403, "outsider": 404},
        {"parameters": {"admin_password": PASSWORD}},
    ),
    Case(
        "draft delete",
        "delete",
        f"{ORG_TYPE}/versions/2.0.0/",
        {"owner": 204, "teammate": 404, "viewer": 404, "outsider": 404},
    ),
    Case("plan list", "get", f"{ORG_TYPE}/plans/", {"owner": 200, "teammate": 200, "viewer": 200, "outsider": 404}),
    Case(
        "plan detail",
        "get",
        f"{ORG_TYPE}/plans/small/",
        {"owner": 200, "teammate": 200, "viewer": 200, "outsider": 404},
    ),
    Case(
        "plan create",
        "post",
        f"{ORG_TYPE}/plans/",
        {"owner": 201, "teammate": 403, "viewer": 403, "outsider": 404},
        {"slug": "tiny", "name": "Tiny"},
    ),
    Case(
        "plan update",
        "patch",
        f"{ORG_TYPE}/plans/small/",
        {"owner": 200, "teammate": 403, "viewer": 403, "outsider": 404},
        {"name": "S"},
    ),
    Case(
        "plan delete",
        "delete",
        f"{ORG_TYPE}/plans/small/",
        {"owner": 204, "teammate": 403, "viewer": 403, "outsider": 404},
    ),
    Case(
        "import preview",
        "post",
        "/api/v1/types/import/preview/",
        {"owner": 200, "teammate": 200, "viewer": 200, "outsider": 200},
        {"yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n"},
    ),
    Case(
        "import",
        "post",
        "/api/v1/types/import/",
        {"owner": 201, "teammate": 400, "viewer": 403, "outsider": 400},
        {
            "slug": "web",
            "name": "Web",
            "yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
        },
    ),
    Case(
        "service list",
        "get",
        "/api/v1/registered-services/",
        {"owner": 200, "teammate": 200, "viewer": 200, "outsider": 200},
    ),
    Case(
        "service detail",
        "get",
        "/api/v1/registered-services/{svc}/",
        {"owner": 200, "teammate": 200, "viewer": 200, "outsider": 404},
    ),
    Case(
        "service register",
        "post",
        "/api/v1/registered-services/",
        {"owner": 201, "teammate": 400, "viewer": 403, "outsider": 400},
        {"slug": "mq", "name": "MQ", "kind": "external", "host": "mq.example.com", "port": 5672},
    ),
    Case(
        "service update",
        "patch",
        "/api/v1/registered-services/{svc}/",
        {"owner": 200, "teammate": 403, "viewer": 403, "outsider": 404},
        {"port": 8443},
    ),
    Case(
        "service unregister",
        "delete",
        "/api/v1/registered-services/{svc}/",
        {"owner": 204, "teammate": 403, "viewer": 403, "outsider": 404},
    ),
]
PERSONAS = ["owner", "teammate", "viewer", "outsider", "anonymous"]


@pytest.fixture
def objects(owner, org, team, teammate, viewer, outsider):
    chat = make_chat(owner, org, team)
    services.create_version(actor=owner, type_=chat, version="2.0.0", copy_from=chat.versions.get())
    svc = services.register_service(
        actor=owner, org=org, owner_team=team, slug="legacy", name="Legacy", kind="external", host="10.0.0.5", port=80
    )
    return {"svc": svc.pk}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_endpoint_access(case, persona, objects, request):
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    response = getattr(api_client_for(user), case.method)(case.url.format(**objects), case.data, format="json")
    expected = case.expect.get(persona, 401)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}


def test_permission_table_reasons(objects, teammate, outsider, viewer):
    # teammate and outsider: no team to own a type with (400 names the problem); viewer: role too low (403)
    response = api_client_for(teammate).post("/api/v1/types/", {"slug": "x", "name": "X"}, format="json")
    assert "Name the owning team" in error(response)["fields"]["owner_team"][0]
    response = api_client_for(viewer).post("/api/v1/types/", {"slug": "x", "name": "X"}, format="json")
    assert "developer role" in error(response)["message"]


# --- query counts ---------------------------------------------------------------------------

# token, ownership (2), then list: count, rows, versions, plans, shared-with; detail: type, versions,
# plans, shared-with (plus the plans' schema version).
PINNED = {"list": 8, "search": 8, "detail": 7}


def count_queries(api, url) -> tuple[int, dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries), response.json()


@pytest.mark.parametrize("n", [1, 12])
def test_type_list_queries_are_pinned(n, owner, org, team, other_org):
    for i in range(n):
        shared = i % 2 == 1
        make_chat(
            owner,
            org,
            team,
            slug=f"chat-{i}",
            visibility="orgs" if shared else "org",
            shared_with=[other_org] if shared else None,
        )
    api = api_client_for(owner)
    api.get("/api/v1/me/")  # the token's last-use stamp is written once a minute
    listed, body = count_queries(api, "/api/v1/types/")
    searched, _ = count_queries(api, "/api/v1/types/?q=chat&owner=acme/chat&source=template")
    assert {"list": listed, "search": searched} == {"list": PINNED["list"], "search": PINNED["search"]}
    rows = body["results"]
    assert len(rows) == n and rows[0]["plans"] == ["small", "large"] and rows[0]["latest_version"] == "1.0.0"


@pytest.mark.parametrize("n", [1, 10])
def test_type_detail_queries_are_pinned(n, owner, org, team):
    type_ = make_chat(owner, org, team)
    for i in range(n):
        services.create_version(actor=owner, type_=type_, version=f"1.{i + 1}.0", copy_from=type_.versions.last())
        services.create_plan(actor=owner, type_=type_, slug=f"p{i}", name=f"P{i}", values={"replicas": 2})
    api = api_client_for(owner)
    api.get("/api/v1/me/")
    queries, body = count_queries(api, "/api/v1/types/chat/")
    assert queries == PINNED["detail"]
    assert len(body["version_list"]) == n + 1 and len(body["plan_list"]) == n + 2
