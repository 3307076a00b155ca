"""REST API behaviour: error format, tokens, members, operations, pagination, query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import api_client_for, make_user
from portal import operations, services
from portal.models import ApiToken, AuditEvent, Membership, Operation, Role


def error(response) -> dict:
    return response.json()["error"]


class TestAuthentication:
    def test_no_credentials(self, db):
        response = APIClient().get("/api/v1/me/")
        assert response.status_code == 401
        assert error(response)["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'

    def test_invalid_token(self, db):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer sbay_nope")
        response = client.get("/api/v1/me/")
        assert response.status_code == 401
        assert error(response) == {"code": "authentication_failed", "message": "Invalid API token."}

    def test_malformed_header(self, db):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer a b")
        assert error(client.get("/api/v1/me/"))["message"].startswith("Malformed Authorization header")

    def test_revoked_and_expired_tokens(self, owner):
        token, key = services.create_api_token(user=owner, name="ci")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        assert client.get("/api/v1/me/").json()["username"] == "owner"
        services.revoke_api_token(user=owner, token=token)
        response = client.get("/api/v1/me/")
        assert response.status_code == 401 and "revoked" in error(response)["message"]

        token, key = services.create_api_token(user=owner, name="old", expires_in_days=1)
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(hours=1))
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        response = client.get("/api/v1/me/")
        assert response.status_code == 401 and "expired" in error(response)["message"]

    def test_disabled_user(self, owner):
        client = api_client_for(owner)
        owner.is_active = False
        owner.save()
        assert client.get("/api/v1/me/").status_code == 401

    def test_session_auth_works_for_the_browser(self, client, owner):
        client.force_login(owner)
        assert client.get("/api/v1/me/").json()["username"] == "owner"


class TestTokens:
    def test_key_is_shown_once_and_stored_hashed(self, api, owner):
        response = api.post("/api/v1/tokens/", {"name": "laptop", "expires_in_days": 30}, format="json")
        assert response.status_code == 201
        key = response.json()["key"]
        assert key.startswith("sbay_")
        token = ApiToken.objects.get(name="laptop")
        assert key not in (token.key_hash, token.prefix) and token.key_hash == services.hash_token(key)
        listed = api.get("/api/v1/tokens/").json()["results"]
        assert all("key" not in row for row in listed)
        assert key not in str(api.get(f"/api/v1/tokens/{token.pk}/").content)
        event = AuditEvent.objects.get(action="token.create", target_id=str(token.pk))
        assert key not in str(event.changes) and event.via == "api"

    def test_bad_input(self, api):
        response = api.post("/api/v1/tokens/", {"name": "", "expires_in_days": 0}, format="json")
        assert response.status_code == 400
        body = error(response)
        assert body["code"] == "invalid" and set(body["fields"]) == {"name", "expires_in_days"}


class TestErrors:
    def test_malformed_json(self, api):
        response = api.post("/api/v1/tokens/", "{not json", content_type="application/json")
        assert response.status_code == 400
        assert error(response)["code"] == "parse_error"
        assert not ApiToken.objects.filter(name="").exists()

    def test_unknown_ids_and_urls(self, api):
        assert error(api.get("/api/v1/operations/not-a-uuid/"))["code"] == "not_found"
        assert api.get("/api/v1/operations/00000000-0000-0000-0000-000000000000/").status_code == 404
        response = api.get("/api/v1/nothing-here/")
        assert response.status_code == 404 and error(response)["code"] == "not_found"

    def test_method_not_allowed(self, api):
        response = api.delete("/api/v1/orgs/acme/")
        assert response.status_code == 405 and error(response)["code"] == "method_not_allowed"

    def test_cancel_finished_operation_is_a_clear_400(self, api, org, owner):
        op = operations.start_operation(
            org=org, kind="worker.check", requested_by=owner, params={"steps": 1, "seconds": 0}
        )
        operations.execute(op.pk)
        response = api.post(f"/api/v1/operations/{op.pk}/cancel/")
        assert response.status_code == 400
        assert error(response)["fields"] == {"state": ["The operation has already succeeded."]}


class TestOrgsAndMembers:
    def test_me_and_org_list(self, api, org, other_org, owner):
        Membership.objects.create(org=other_org, user=owner, role=Role.VIEWER)
        me = api.get("/api/v1/me/").json()
        assert me["current_org"] == "acme"
        assert {o["slug"]: o["role"] for o in me["orgs"]} == {"acme": "admin", "globex": "viewer"}
        rows = api.get("/api/v1/orgs/").json()["results"]
        assert [(r["slug"], r["role"]) for r in rows] == [("acme", "admin"), ("globex", "viewer")]
        api.credentials(HTTP_X_SERVICEBAY_ORG="globex", **api._credentials)
        assert api.get("/api/v1/me/").json()["current_org"] == "globex"

    def test_spend_limit_validation_and_audit(self, api, org):
        response = api.patch("/api/v1/orgs/acme/", {"monthly_spend_limit": "-5"}, format="json")
        assert response.status_code == 400 and "monthly_spend_limit" in error(response)["fields"]
        response = api.patch("/api/v1/orgs/acme/", {"monthly_spend_limit": "900.50"}, format="json")
        assert response.json()["monthly_spend_limit"] == "900.50"
        event = AuditEvent.objects.get(action="org.update")
        assert event.changes == {"monthly_spend_limit": ["100.00", "900.50"]} and event.actor.username == "owner"

    def test_add_member_errors(self, api, teammate, team):
        response = api.post("/api/v1/orgs/acme/members/", {"user": "ghost"}, format="json")
        assert error(response)["fields"] == {"user": ["No user with the username or email 'ghost'."]}
        response = api.post("/api/v1/orgs/acme/members/", {"user": "teammate"}, format="json")
        assert "already a member" in error(response)["fields"]["user"][0]
        make_user("newbie")
        response = api.post(
            "/api/v1/orgs/acme/members/", {"user": "newbie@example.com", "teams": ["nope"]}, format="json"
        )
        assert error(response)["fields"] == {"teams": ["Unknown team(s): nope."]}
        assert not Membership.objects.filter(user__username="newbie").exists()  # nothing half-written
        response = api.post(
            "/api/v1/orgs/acme/members/", {"user": "newbie", "role": "viewer", "teams": ["chat"]}, format="json"
        )
        assert response.status_code == 201 and response.json()["teams"] == ["chat"]

    def test_last_admin_cannot_be_demoted_or_removed(self, api, owner):
        response = api.patch("/api/v1/orgs/acme/members/owner/", {"role": "viewer"}, format="json")
        assert error(response)["fields"] == {"role": ["An organization needs at least one admin."]}
        assert api.delete("/api/v1/orgs/acme/members/owner/").status_code == 400
        assert Membership.objects.get(user=owner).role == Role.ADMIN

    def test_member_may_leave(self, teammate):
        assert api_client_for(teammate).delete("/api/v1/orgs/acme/members/teammate/").status_code == 204


class TestOperationsApi:
    def test_check_workers_answers_202_with_the_operation(self, api, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = api.post(
                "/api/v1/orgs/acme/check-workers/",
                {"steps": 2, "seconds": 0},
                format="json",
                HTTP_USER_AGENT="sbay/0.1.0",
            )
        assert response.status_code == 202
        body = response.json()
        assert body["state"] == "pending" and body["kind"] == "worker.check" and body["url"].startswith("/operations/")
        assert len(callbacks) == 1
        assert AuditEvent.objects.get(action="operation.start").via == "cli"
        operations.execute(body["id"])
        detail = api.get(f"/api/v1/operations/{body['id']}/").json()
        assert detail["state"] == "succeeded"
        assert [s["message"] for s in detail["steps"]][-1] == "Succeeded"

    def test_check_workers_validates(self, api):
        response = api.post("/api/v1/orgs/acme/check-workers/", {"steps": 99}, format="json")
        assert response.status_code == 400 and "steps" in error(response)["fields"]
        assert not Operation.objects.exists()

    def test_viewer_cannot_start_work(self, viewer):
        response = api_client_for(viewer).post("/api/v1/orgs/acme/check-workers/")
        assert response.status_code == 403 and "developer role" in error(response)["message"]

    def test_filters_and_pagination(self, api, org, owner):
        for _ in range(3):
            operations.start_operation(org=org, kind="worker.check", requested_by=owner)
        done = operations.start_operation(
            org=org, kind="worker.check", requested_by=owner, params={"steps": 1, "seconds": 0}
        )
        operations.execute(done.pk)
        assert api.get("/api/v1/operations/", {"state": "succeeded"}).json()["count"] == 1
        page = api.get("/api/v1/operations/", {"page_size": 2}).json()
        assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
        assert api.get("/api/v1/operations/", {"target_type": "portal.organization"}).json()["count"] == 0
        assert api.get("/api/v1/operations/", {"state": "bogus"}).status_code == 400

    @pytest.mark.parametrize("count", [1, 20])
    def test_list_query_count_is_constant(self, api, org, owner, count, django_assert_max_num_queries):
        for _ in range(count):
            operations.start_operation(org=org, kind="worker.check", target=org, requested_by=owner)
        with django_assert_max_num_queries(6):
            assert api.get("/api/v1/operations/").json()["count"] == count


def test_openapi_schema_and_docs(api, client, owner):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/operations/{id}/" in paths and "/api/v1/orgs/{slug}/check-workers/" in paths
    client.force_login(owner)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content and b"cdn" not in docs.content.lower()
