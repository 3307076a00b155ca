"""The main journey of the foundation in a real browser (Debian's chromium via Playwright).

Log in, switch organization, see the dashboard, and watch the inbox badge change when a
notification arrives — without reloading the page.
"""

from __future__ import annotations

import pytest

from conftest import PASSWORD
from portal.models import Membership, Role
from portal.notifications import notify

pytestmark = pytest.mark.browser


def test_login_switch_org_dashboard_and_live_inbox_badge(page, owner, org, other_org, tmp_path):
    Membership.objects.create(org=other_org, user=owner, role=Role.VIEWER)

    page.goto("/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator(".alert-danger").is_visible()
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    assert page.locator("#dashboard-org").inner_text() == "Acme Corp"

    # Switch to the other organization from the top bar.
    page.click("#org-switcher")
    page.click("button[data-org=globex]")
    page.wait_for_selector("#dashboard-org:has-text('Globex')")
    assert page.locator("#current-org-name").inner_text() == "Globex"
    assert "You are now working in Globex." in page.locator(".alert-success").inner_text()

    # No unread notifications yet; one arrives while the page is open.
    assert page.locator("#inbox-unread").get_attribute("data-count") == "0"
    notify([owner], title="Your chat instance is out of date", org=other_org)
    page.wait_for_selector("#inbox-unread[data-count='1']", timeout=15_000)
    assert page.locator("#inbox-unread").inner_text().startswith("1")
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    page.click("#inbox-link")
    page.wait_for_selector("text=Your chat instance is out of date")
    page.click("text=Mark read")
    page.wait_for_selector("#inbox-unread[data-count='0']", state="attached")
