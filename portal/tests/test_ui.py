"""Pages through the Django test client: owner / teammate / outsider, forms with field errors, htmx."""

from __future__ import annotations

import pytest
from django.core import mail

from conftest import PASSWORD, make_user
from portal import operations, services
from portal.models import ApiToken, Membership, Notification, Profile, Role
from portal.notifications import notify

PAGES = [
    "/",
    "/org/",
    "/org/audit/",
    "/operations/",
    "/inbox/",
    "/settings/",
    "/catalog/",
    "/instances/",
    "/marketplace/",
    "/marketplace/approvals/",
]


@pytest.fixture
def web(client, owner):
    client.force_login(owner)
    return client


def test_login_logout(client, owner):
    response = client.post("/login/", {"username": "owner", "password": "wrong"})
    assert response.status_code == 200 and b"Please enter a correct username and password" in response.content
    response = client.post("/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert b"Acme Corp" in client.get("/").content
    client.post("/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders(web, path):
    response = web.get(path)
    assert response.status_code == 200
    assert b'id="inbox-badge-slot"' in response.content  # the shell is there
    assert b"cdn." not in response.content and b"unpkg" not in response.content


def test_user_without_org_sees_what_to_do(client, db):
    client.force_login(make_user("loner"))
    assert b"not a member of any organization" in client.get("/").content


def test_switch_org(web, owner, other_org):
    Membership.objects.create(org=other_org, user=owner, role=Role.VIEWER)
    response = web.post("/orgs/switch/", {"org": "globex", "next": "/org/"})
    assert response.status_code == 302 and response["Location"] == "/org/"
    assert Profile.objects.get(user=owner).current_org == other_org
    assert b'id="dashboard-org">Globex' in web.get("/").content
    # An open redirect is not possible through "next".
    assert web.post("/orgs/switch/", {"org": "acme", "next": "//evil.example"})["Location"] == "/"


def test_outsider_cannot_switch_into_another_org(client, outsider, org):
    client.force_login(outsider)
    assert client.post("/orgs/switch/", {"org": "acme"}).status_code == 404


def test_org_settings_forms_show_field_errors(web, org):
    response = web.post("/org/", {"form": "settings", "name": "", "monthly_spend_limit": "-1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-field="name"' in html and 'data-field="monthly_spend_limit"' in html
    org.refresh_from_db()
    assert org.name == "Acme Corp"  # nothing saved
    response = web.post("/org/", {"form": "member", "user": "ghost", "role": "developer"})
    assert 'data-field="user"' in response.content.decode()
    assert "No user with the username or email" in response.content.decode()
    make_user("newbie")
    response = web.post("/org/", {"form": "member", "user": "newbie", "role": "viewer"})
    assert response.status_code == 302
    assert Membership.objects.get(user__username="newbie").role == Role.VIEWER
    response = web.post("/org/", {"form": "settings", "name": "Acme", "monthly_spend_limit": "300"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert str(org.monthly_spend_limit) == "300.00"


def test_developer_cannot_change_org(client, teammate):
    client.force_login(teammate)
    page = client.get("/org/")
    assert b"Only organization admins" in page.content
    response = client.post("/org/", {"form": "settings", "name": "Hacked", "monthly_spend_limit": "1"})
    assert response.status_code == 403 and b"admin role" in response.content


def test_member_change_is_404_for_outsiders(client, outsider, teammate):
    membership = Membership.objects.get(user=teammate)
    client.force_login(outsider)
    assert client.post(f"/org/members/{membership.pk}/", {"role": "admin"}).status_code == 404
    assert Membership.objects.get(pk=membership.pk).role == Role.DEVELOPER


def test_role_change_and_removal(web, teammate):
    membership = Membership.objects.get(user=teammate)
    web.post(f"/org/members/{membership.pk}/", {"role": "viewer"})
    assert Membership.objects.get(pk=membership.pk).role == Role.VIEWER
    web.post(f"/org/members/{membership.pk}/", {"action": "remove"})
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert b"member.remove" in web.get("/org/audit/").content


def test_operation_page_and_live_fragment(web, org, owner, client, outsider):
    op = services.check_workers(actor=owner, org=org, steps=1, seconds=0)
    page = web.get(f"/operations/{op.pk}/")
    assert page.status_code == 200 and b'hx-trigger="every 1s"' in page.content
    assert b"<html" in page.content
    fragment = web.get(f"/operations/{op.pk}/", HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and b'id="operation-progress"' in fragment.content
    operations.execute(op.pk)
    fragment = web.get(f"/operations/{op.pk}/", HTTP_HX_REQUEST="true")
    assert b"every 1s" not in fragment.content and fragment["HX-Trigger"] == "operation-finished"
    assert b"Succeeded" in fragment.content
    client.force_login(outsider)
    assert client.get(f"/operations/{op.pk}/").status_code == 404
    assert client.post(f"/operations/{op.pk}/cancel/").status_code == 404


def test_check_workers_button_starts_an_operation(web):
    response = web.post("/org/check-workers/")
    assert response.status_code == 302 and response["Location"].startswith("/operations/")


def test_inbox_badge_and_mark_read(web, owner, org):
    assert b'data-count="0"' in web.get("/inbox/badge/").content
    notify([owner], title="Your instance is out of date", org=org)
    notify([owner], title="Approve a purchase", org=org)
    assert b'data-count="2"' in web.get("/inbox/badge/").content
    note = Notification.objects.filter(user=owner).first()
    response = web.post(f"/inbox/{note.pk}/read/", HTTP_HX_REQUEST="true")
    assert response["HX-Trigger"] == "inbox-changed" and b'id="inbox-list"' in response.content
    assert b'data-count="1"' in web.get("/inbox/badge/").content
    web.post("/inbox/read/")
    assert b'data-count="0"' in web.get("/inbox/badge/").content


def test_inbox_of_another_user_is_404(client, owner, teammate):
    note = notify([owner], title="private")[0]
    client.force_login(teammate)
    assert client.post(f"/inbox/{note.pk}/read/").status_code == 404
    assert b"private" not in client.get("/inbox/").content


def test_token_shown_once_then_revoked(web, owner):
    response = web.post("/settings/", {"form": "token", "name": "laptop"})
    key = response.context["new_key"]
    assert key.encode() in response.content and response["Cache-Control"] == "no-store"
    assert key.encode() not in web.get("/settings/").content
    token = ApiToken.objects.get(name="laptop")
    web.post(f"/settings/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None
    response = web.post("/settings/", {"form": "token", "name": "", "expires_in_days": "0"})
    assert (
        'data-field="name"' in response.content.decode() and 'data-field="expires_in_days"' in response.content.decode()
    )


def test_notification_preferences_control_email(web, owner, org, django_capture_on_commit_callbacks, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://sb.example"
    from portal.celery import app

    app.conf.task_always_eager = True  # run the email task in-process for this check
    try:
        with django_capture_on_commit_callbacks(execute=True):
            notify([owner], title="Hello", body="A body", url="/inbox/", org=org)
        assert [m.subject for m in mail.outbox] == ["[Servicebay] Hello"]
        assert mail.outbox[0].to == ["owner@example.com"] and "https://sb.example/inbox/" in mail.outbox[0].body
        web.post("/settings/", {"form": "prefs"})  # unticked checkbox: no email
        with django_capture_on_commit_callbacks(execute=True):
            notify([owner], title="Quiet", org=org)
        assert len(mail.outbox) == 1
        assert Notification.objects.filter(user=owner).count() == 2
    finally:
        app.conf.task_always_eager = False


def test_server_error_page_is_plain_and_json_for_the_api(rf):
    from portal.views import error_500

    page = error_500(rf.get("/instances/"))
    assert page.status_code == 500 and b"Something went wrong" in page.content
    api = error_500(rf.get("/api/v1/operations/"))
    assert api.status_code == 500 and b'"server_error"' in api.content


def test_operation_page_shows_its_audit_trail(web, org, owner):
    op = services.check_workers(actor=owner, org=org)
    page = web.get(f"/operations/{op.pk}/").content.decode()
    assert "operation.start" in page and "owner" in page


def test_error_pages(web):
    response = web.get("/no/such/page/")
    assert response.status_code == 404 and b"404" in response.content and b"<html" in response.content
    response = web.get("/api/v1/no/such/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("count", [1, 15])
def test_dashboard_query_count_is_constant(web, org, owner, count, django_assert_max_num_queries):
    for _ in range(count):
        services.check_workers(actor=owner, org=org)
    with django_assert_max_num_queries(14):
        assert web.get("/").status_code == 200
    with django_assert_max_num_queries(12):
        assert web.get("/operations/").status_code == 200
