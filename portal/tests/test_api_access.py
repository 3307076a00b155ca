"""Generated permission tests: every portal API endpoint × owner / teammate / outsider / anonymous.

An outsider (admin of another org) gets 404 for every object of ``org``; a member below the
needed role gets 403; anonymous callers get 401. Lists never show another org's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from conftest import api_client_for, make_user
from portal import operations, services
from portal.models import Notification

PERSONAS = ["owner", "teammate", "outsider", "anonymous"]


@dataclass
class Case:
    name: str
    method: str
    url: str  # formatted with the objects below
    expect: dict[str, int]  # persona -> status
    data: dict = field(default_factory=dict)


CASES = [
    Case("org detail", "get", "/api/v1/orgs/acme/", {"owner": 200, "teammate": 200, "outsider": 404}),
    Case(
        "org update",
        "patch",
        "/api/v1/orgs/acme/",
        {"owner": 200, "teammate": 403, "outsider": 404},
        {"monthly_spend_limit": "250.00"},
    ),
    Case("org switch", "post", "/api/v1/orgs/acme/switch/", {"owner": 200, "teammate": 200, "outsider": 404}),
    Case("check workers", "post", "/api/v1/orgs/acme/check-workers/", {"owner": 202, "teammate": 202, "outsider": 404}),
    Case("team list", "get", "/api/v1/orgs/acme/teams/", {"owner": 200, "teammate": 200, "outsider": 404}),
    Case(
        "team create",
        "post",
        "/api/v1/orgs/acme/teams/",
        {"owner": 201, "teammate": 403, "outsider": 404},
        {"name": "Data", "slug": "data"},
    ),
    Case("member list", "get", "/api/v1/orgs/acme/members/", {"owner": 200, "teammate": 200, "outsider": 404}),
    Case(
        "member add",
        "post",
        "/api/v1/orgs/acme/members/",
        {"owner": 201, "teammate": 403, "outsider": 404},
        {"user": "newcomer", "role": "viewer"},
    ),
    Case("member detail", "get", "/api/v1/orgs/acme/members/viewer/", {"owner": 200, "teammate": 200, "outsider": 404}),
    Case(
        "member change",
        "patch",
        "/api/v1/orgs/acme/members/viewer/",
        {"owner": 200, "teammate": 403, "outsider": 404},
        {"role": "developer"},
    ),
    Case(
        "member remove", "delete", "/api/v1/orgs/acme/members/viewer/", {"owner": 204, "teammate": 403, "outsider": 404}
    ),
    Case("operation detail", "get", "/api/v1/operations/{op}/", {"owner": 200, "teammate": 200, "outsider": 404}),
    Case(
        "operation cancel", "post", "/api/v1/operations/{op}/cancel/", {"owner": 200, "teammate": 200, "outsider": 404}
    ),
    Case(
        "notification detail", "get", "/api/v1/notifications/{note}/", {"owner": 200, "teammate": 404, "outsider": 404}
    ),
    Case(
        "notification read",
        "post",
        "/api/v1/notifications/{note}/read/",
        {"owner": 200, "teammate": 404, "outsider": 404},
    ),
    Case("token detail", "get", "/api/v1/tokens/{token}/", {"owner": 200, "teammate": 404, "outsider": 404}),
    Case("token revoke", "delete", "/api/v1/tokens/{token}/", {"owner": 204, "teammate": 404, "outsider": 404}),
]

LISTS = ["/api/v1/operations/", "/api/v1/audit-events/", "/api/v1/notifications/", "/api/v1/tokens/"]


@pytest.fixture
def objects(org, owner, teammate, viewer, outsider):
    make_user("newcomer")
    op = operations.start_operation(org=org, kind="worker.check", target=org, requested_by=owner)
    services.update_org_settings(actor=owner, org=org, name="Acme Corporation")  # an audit event
    note = Notification.objects.create(user=owner, org=org, title="hello")
    token, _ = services.create_api_token(user=owner, name="laptop")
    return {"op": op.pk, "note": note.pk, "token": token.pk}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_endpoint_access(case, persona, objects, request):
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    client = api_client_for(user)
    response = getattr(client, case.method)(case.url.format(**objects), case.data, format="json")
    expected = case.expect.get(persona, 401)
    assert response.status_code == expected, response.content
    if expected >= 400:
        body = response.json()
        assert set(body["error"]) >= {"code", "message"}, body


@pytest.mark.parametrize("url", LISTS)
def test_lists_show_nothing_of_another_org(url, objects, outsider, owner):
    outsider_rows = api_client_for(outsider).get(url).json()["results"]
    owner_rows = api_client_for(owner).get(url).json()["results"]
    assert owner_rows, f"{url} should list the owner's rows"
    assert not any(row.get("org") == "acme" for row in outsider_rows)
    assert {row.get("id") for row in owner_rows}.isdisjoint({row.get("id") for row in outsider_rows})


def test_outsider_cannot_filter_their_way_in(objects, outsider):
    client = api_client_for(outsider)
    assert client.get("/api/v1/operations/", {"org": "acme"}).json()["count"] == 0
    assert client.get("/api/v1/audit-events/", {"org": "acme"}).json()["count"] == 0
    # An org header naming an org the user is not in does not widen anything either.
    client.credentials(HTTP_X_SERVICEBAY_ORG="acme", **client._credentials)
    assert client.get("/api/v1/me/").json()["current_org"] is None
