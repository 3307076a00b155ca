"""Setting an org's payment method is an operation: the request validates and records it, the
``billing.payment_method`` handler talks to the provider (localstripe) — customer once, card
attached and made the default, transient errors retried, card errors shown — and a webhook that
needs the provider to place an invoice is recorded and settled by an operation, never in the request.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from conftest import api_client_for
from marketplace import services
from marketplace.models import BillingAccount, PurchaseRequest, StripeEvent
from marketplace.tests.conftest import run, stripe_get, stripe_post, wait_for_state
from marketplace.tests.test_webhooks import deliver
from portal.models import AuditEvent, Operation

pytestmark = pytest.mark.django_db(transaction=True)

BILLING = "/marketplace/billing/"


def customers(localstripe) -> list[dict]:
    return stripe_get(localstripe, "/v1/customers")["data"]


def card(localstripe, number: str) -> str:
    data = {"type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034"}
    return stripe_post(localstripe, "/v1/payment_methods", {**data, "card[cvc]": "123"})["id"]


def steps(op) -> list[str]:
    return list(op.steps.values_list("message", flat=True))


def test_the_request_records_and_the_operation_sets_the_card_once(localstripe, org, owner, teammate):
    with pytest.raises(PermissionDenied):
        services.set_payment_method(actor=teammate, org=org, payment_method_id="pm_card_visa")
    for bad in ("", "card_visa", "pm_", "pm_a b", "pm_" + "x" * 300, "pm_x\x00"):
        with pytest.raises(ValidationError):
            services.set_payment_method(actor=owner, org=org, payment_method_id=bad)

    visa = card(localstripe, "4242424242424242")
    op = services.set_payment_method(actor=owner, org=org, payment_method_id=f" {visa} ")
    # Nothing reached the provider in the request: the request is recorded, the operation waits.
    assert op.kind == "billing.payment_method" and op.state == Operation.State.PENDING
    assert op.params == {"payment_method": visa}
    account = BillingAccount.objects.get(org=org)
    assert account.requested_payment_method_id == visa
    assert account.payment_method_id == "" and account.stripe_customer_id == ""
    assert customers(localstripe) == []  # nothing at the provider yet
    assert AuditEvent.objects.filter(action="billing.payment_method.request", actor=owner).exists()

    page = Client()
    page.force_login(owner)
    html = page.get(BILLING).content.decode()
    assert 'id="payment-method-request" class="mt-2" data-state="pending"' in html and "hx-get" in html

    assert run(op).state == Operation.State.SUCCEEDED, steps(op)
    account.refresh_from_db()
    assert account.payment_method_id == visa and account.payment_method_label == "Visa •••• 4242"
    assert account.updated_by == owner
    customer = stripe_get(localstripe, f"/v1/customers/{account.stripe_customer_id}")
    assert customer["invoice_settings"]["default_payment_method"] == visa
    assert customer["metadata"]["servicebay_org"] == org.slug

    # A worker lost after the provider answered runs the handler again: still one customer, one audit.
    Operation.objects.filter(pk=op.pk).update(state=Operation.State.PENDING, not_before=timezone.now())
    assert run(op).state == Operation.State.SUCCEEDED, steps(op)
    assert len(customers(localstripe)) == 1
    assert AuditEvent.objects.filter(action="billing.payment_method").count() == 1

    # A second card reuses the customer.
    mastercard = card(localstripe, "5555555555554444")
    second = run(services.set_payment_method(actor=owner, org=org, payment_method_id=mastercard))
    assert second.state == Operation.State.SUCCEEDED, steps(second)
    account.refresh_from_db()
    assert account.payment_method_label.endswith("4444") and len(customers(localstripe)) == 1

    html = page.get(BILLING, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="billing-status"' in html and "4444" in html and "hx-get" not in html


def test_an_older_request_never_wins(localstripe, org, owner):
    first = services.set_payment_method(actor=owner, org=org, payment_method_id="pm_card_visa")
    mastercard = card(localstripe, "5555555555554444")
    second = services.set_payment_method(actor=owner, org=org, payment_method_id=mastercard)
    assert run(second).state == Operation.State.SUCCEEDED, steps(second)
    first = run(first)
    assert first.state == Operation.State.SUCCEEDED and first.result == {"superseded": True}
    assert BillingAccount.objects.get(org=org).payment_method_label.endswith("4444")


@pytest.mark.parametrize(
    ("number", "message"),
    [("4000000000000002", "Your card was declined."), (None, "The payment provider refused the request")],
    ids=["declined", "unknown"],
)
def test_a_card_the_provider_refuses_fails_with_its_message(localstripe, org, owner, number, message):
    pm = card(localstripe, number) if number else "pm_doesnotexist"
    op = run(services.set_payment_method(actor=owner, org=org, payment_method_id=pm))
    assert op.state == Operation.State.FAILED and op.attempts == 1
    assert message.lower() in op.error.lower(), op.error
    account = BillingAccount.objects.get(org=org)
    assert account.payment_method_id == "" and account.stripe_customer_id  # the customer stays for next time
    page = Client()
    page.force_login(owner)
    html = page.get(BILLING).content.decode()
    assert 'data-state="failed"' in html and 'id="payment-method-error"' in html and op.error in html


def test_an_unreachable_provider_is_retried(localstripe, org, owner, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    op = run(services.set_payment_method(actor=owner, org=org, payment_method_id="pm_card_visa"))
    assert op.state == Operation.State.PENDING and op.attempts == 1  # RetryLater: backs off
    assert any("retrying" in m for m in steps(op))
    page = Client()
    page.force_login(owner)
    assert 'data-state="pending"' in page.get(BILLING).content.decode()
    settings.STRIPE_API_BASE = localstripe
    Operation.objects.filter(pk=op.pk).update(not_before=timezone.now())
    assert run(op).state == Operation.State.SUCCEEDED, steps(op)
    assert BillingAccount.objects.get(org=org).payment_method_label == "Visa •••• 4242"


def test_ui_and_api_answer_with_the_operation(localstripe, org, owner, teammate):
    page = Client()
    page.force_login(owner)
    response = page.post(BILLING, {"payment_method": "pm_card_visa"})
    assert response.status_code == 302
    op = Operation.objects.get(kind="billing.payment_method")
    assert op.requested_by == owner and op.state == Operation.State.PENDING
    assert "pm_…" in page.post(BILLING, {"payment_method": "nope"}).content.decode()

    api = api_client_for(owner)
    response = api.post("/api/v1/orgs/acme/billing/", {"payment_method": "pm_card_visa"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "billing.payment_method" and body["state"] == "pending"
    assert run(Operation.objects.get(pk=body["id"])).state == Operation.State.SUCCEEDED
    shown = api_client_for(teammate).get("/api/v1/orgs/acme/billing/").json()
    assert shown["payment_method"] == "Visa •••• 4242"
    assert shown["payment_method_operation"]["id"] == body["id"]
    assert shown["payment_method_operation"]["state"] == "succeeded"
    assert api.post("/api/v1/orgs/acme/billing/", {"payment_method": "x"}, format="json").status_code == 400


def test_a_webhook_that_beats_our_write_is_settled_by_an_operation(localstripe, stripe_listing, org, owner, teammate):
    """invoice.paid for a subscription Servicebay has not stored yet: answered at once (200) with the
    event recorded; the operation asks the provider whose subscription it is and marks it paid."""
    assert run(services.set_payment_method(actor=owner, org=org, payment_method_id="pm_card_visa")).state == "succeeded"
    account = BillingAccount.objects.get(org=org)
    purchase, op = services.request_purchase(actor=teammate, org=org, listing=stripe_listing, plan_slug="small")
    # The subscription exists at the provider, but our write of its id has not happened yet.
    sub = stripe_post(
        localstripe,
        "/v1/subscriptions",
        {
            "customer": account.stripe_customer_id,
            "items[0][plan]": purchase.price.stripe_price_id,
            "metadata[servicebay_purchase]": str(purchase.pk),
        },
    )
    event = {
        "id": "evt_early",
        "type": "invoice.paid",
        "created": 1,
        "data": {
            "object": {
                "id": "in_not_stored",
                "subscription": sub["id"],
                "customer": account.stripe_customer_id,
            }
        },
    }
    response = deliver(event)
    assert response.status_code == 200 and response.content.decode().startswith("deferred to operation")
    settle = Operation.objects.get(kind="billing.stripe_event", params__event="evt_early")
    assert StripeEvent.objects.get(pk="evt_early").outcome == f"deferred to operation {settle.pk}"
    purchase.refresh_from_db()
    assert purchase.state == PurchaseRequest.State.APPROVED
    assert deliver(event).content == b"duplicate"

    assert run(settle).state == Operation.State.SUCCEEDED, steps(settle)
    purchase = wait_for_state(purchase, PurchaseRequest.State.PAID, timeout=1)
    assert purchase.stripe_subscription_id == sub["id"]
    assert StripeEvent.objects.get(pk="evt_early").outcome == "paid"
    assert run(op).state == Operation.State.SUCCEEDED  # the payment operation finds it paid


def test_a_webhook_for_a_customer_that_is_not_ours_is_acknowledged(localstripe, org):
    event = {
        "id": "evt_other",
        "type": "invoice.payment_failed",
        "created": 1,
        "data": {"object": {"id": "in_x", "subscription": "sub_x", "customer": "cus_someone_else"}},
    }
    response = deliver(event)
    assert response.status_code == 200 and response.content == b"unknown invoice"
    assert not Operation.objects.filter(kind="billing.stripe_event").exists()
