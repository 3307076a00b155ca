"""Scenario 7 in a real browser (Debian's chromium via Playwright) against localstripe:
a developer buys a plan over the limit, an admin approves, the signed webhook arrives, the
developer provisions the plan on the real Kubernetes API server."""

from __future__ import annotations

import pytest

from conftest import PASSWORD
from instances.models import Instance
from marketplace.models import PurchaseRequest
from portal import operations
from portal.models import Operation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, username: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def run_pending(kind: str) -> Operation:
    op = Operation.objects.filter(kind=kind, state="pending").latest("created_at")
    operations.execute(op.pk)
    op.refresh_from_db()
    return op


def test_buy_over_limit_approve_webhook_then_provision(
    page, browser, live_server, localstripe, stripe_listing, org, owner, teammate, cluster, tmp_path
):
    # The developer finds the listing and buys the large plan (150 USD > the 100 USD limit).
    log_in(page, "teammate")
    page.goto("/marketplace/")
    page.fill("#marketplace-q", "postgres")
    page.wait_for_selector("[data-listing=pgdb]")
    page.click("[data-listing=pgdb] a")
    page.wait_for_selector("#listing-name:has-text('Managed Postgres')")
    assert "150.00 USD/month" in page.locator("[data-plan=large] .price").inner_text()
    page.screenshot(path=str(tmp_path / "listing.png"), full_page=True)
    page.click("[data-buy=large]")
    page.wait_for_url("**/marketplace/purchases/*/")
    assert "Waiting for approval" in page.locator("#purchase-state").inner_text()
    purchase = PurchaseRequest.objects.get()

    # The admin sets up a card, then approves from the approvals queue with a comment.
    admin_context = browser.new_context(base_url=live_server.url)
    admin = admin_context.new_page()
    admin.set_default_timeout(15_000)
    log_in(admin, "owner")
    admin.goto("/marketplace/billing/")
    admin.fill("#id_payment_method", "pm_card_visa")
    admin.click("#save-payment-method")
    # Saved as a request; the page shows it pending and follows the operation until the card is set.
    admin.wait_for_selector("#payment-method-request[data-state=pending]")
    assert run_pending("billing.payment_method").state == "succeeded"
    admin.wait_for_selector("#payment-method:has-text('4242')")
    assert admin.locator("#payment-method-request").count() == 0
    admin.goto("/marketplace/approvals/")
    admin.fill(f"[data-purchase='{purchase.pk}'] input[name=comment]", "for the support audits")
    admin.screenshot(path=str(tmp_path / "approvals.png"), full_page=True)
    admin.click(f"[data-approve='{purchase.pk}']")
    admin.wait_for_selector("#purchase-decision:has-text('for the support audits')")
    admin_context.close()

    # The payment operation creates the subscription at localstripe; its signed webhook marks it paid.
    assert run_pending("purchase.pay").state == "succeeded"
    page.reload()
    for _ in range(30):
        if page.locator("#purchase-state [data-state=ready]").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    assert "Paid" in page.locator("#purchase-state").inner_text()
    page.screenshot(path=str(tmp_path / "purchase-paid.png"), full_page=True)

    # The developer deploys the plan just bought.
    page.click("#entitlement a")
    page.wait_for_url("**/catalog/pgdb/deploy/?plan=large")
    page.fill("#instance-name", "support-db")
    page.select_option("#deploy-cluster", str(cluster.pk))
    page.click("#deploy-submit")
    page.wait_for_url("**/instances/*/")
    assert run_pending("instance.provision").state == "succeeded"
    page.wait_for_selector("#instance-state [data-state=ready]", timeout=30_000)
    assert Instance.objects.get(name="support-db").plan.slug == "large"
