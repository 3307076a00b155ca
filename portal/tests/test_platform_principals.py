"""OSB platforms act through principal users (osbapi): they are not people of the org.

They are listed on the Platforms page, not among the members (page, dashboard count, API), and no
member action (add to an org, change role or teams, remove) can touch them.
"""

from __future__ import annotations

import pytest
from django.test import Client

from conftest import PASSWORD, api_client_for
from osbapi.services import create_platform_credential
from portal.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform(org, owner):
    credential, _secret = create_platform_credential(actor=owner, org=org, name="cloudfoundry")
    return credential


def test_principals_are_not_listed_as_members(platform, org, owner, teammate):
    principal = platform.principal.get_username()
    listed = api_client_for(owner).get(f"/api/v1/orgs/{org.slug}/members/").json()
    usernames = [row["username"] for row in listed.get("results", listed)]
    assert "owner" in usernames and "teammate" in usernames and principal not in usernames
    web = Client()
    web.login(username="owner", password=PASSWORD)
    assert principal not in web.get("/org/").content.decode()
    assert Membership.objects.filter(org=org, user=platform.principal).exists()  # it still acts as a developer


def test_member_actions_refuse_principals(platform, org, other_org, owner, outsider):
    principal = platform.principal
    membership = Membership.objects.get(org=org, user=principal)
    client = api_client_for(owner)
    response = client.patch(
        f"/api/v1/orgs/{org.slug}/members/{principal.get_username()}/", {"role": "admin"}, format="json"
    )
    assert response.status_code in (400, 404)
    assert client.delete(f"/api/v1/orgs/{org.slug}/members/{principal.get_username()}/").status_code in (400, 404)
    membership.refresh_from_db()
    assert membership.role == "developer"
    # Another org's admin cannot make the platform a member of theirs.
    added = api_client_for(outsider).post(
        f"/api/v1/orgs/{other_org.slug}/members/", {"user": principal.get_username(), "role": "admin"}, format="json"
    )
    assert added.status_code == 400 and "platform" in added.json()["error"]["message"].lower()
    assert not Membership.objects.filter(org=other_org, user=principal).exists()
