"""The whole purchase flow against localstripe: a real, stateful Stripe peer that signs its webhooks.

buy over the limit → admins notified → approve → Stripe customer + subscription → signed webhook →
paid + entitlement → provision on the real Kubernetes API server → deprovision ends the subscription
at period end. Plus: within the limit, a declined card, and the upgrade small → large (scenario 10).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from instances import services as instance_services
from instances.models import Instance
from marketplace import services
from marketplace.entitlements import require_entitlement
from marketplace.models import Approval, BillingAccount, Entitlement, PurchaseRequest, StripeEvent
from marketplace.tests.conftest import (
    API_KEY,
    WEBHOOK_SECRET,
    run,
    stripe_get,
    stripe_post,
    wait_for_event,
    wait_for_state,
)
from portal import operations
from portal.models import AuditEvent, Notification, Operation, OperationStep

pytestmark = pytest.mark.django_db(transaction=True)


def set_card(owner, org, localstripe, number: str | None = None) -> str:
    pm = "pm_card_visa"
    if number:
        created = stripe_post(
            localstripe,
            "/v1/payment_methods",
            {
                "type": "card",
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": "2034",
                "card[cvc]": "123",
            },
        )
        pm = created["id"]
    op = run(services.set_payment_method(actor=owner, org=org, payment_method_id=pm))
    assert op.state == Operation.State.SUCCEEDED, list(op.steps.values_list("message", flat=True))
    return BillingAccount.objects.get(org=org).payment_method_label


def test_buy_over_limit_approve_webhook_entitles_then_provision_and_deprovision(
    localstripe, stripe_listing, org, owner, teammate, cluster
):
    assert stripe_listing.stripe_product_id.startswith("prod_")
    prices = {p.plan.slug: p for p in stripe_listing.prices.select_related("plan")}
    assert prices["large"].stripe_price_id.startswith("plan_") or prices["large"].stripe_price_id
    assert prices["hobby"].stripe_price_id == ""  # free: nothing at Stripe
    large = stripe_listing.service_type.plans.get(slug="large")

    # Without a purchase, provisioning the paid plan is refused with a link to the purchase page.
    with pytest.raises(ValidationError) as refused:
        instance_services.provision_instance(
            actor=teammate, org=org, service_type=stripe_listing.service_type, name="db", plan=large, cluster=cluster
        )
    assert "/marketplace/pgdb/?plan=large" in refused.value.message_dict["plan"][0]

    # 150/month is above Acme's 100 limit: it waits, and the admin is notified.
    purchase, op = services.request_purchase(actor=teammate, org=org, listing=stripe_listing, plan_slug="large")
    assert op is None and purchase.state == PurchaseRequest.State.PENDING
    assert purchase.monthly_amount == 150
    assert Notification.objects.filter(user=owner, url=purchase.get_absolute_url()).exists()

    with pytest.raises(PermissionDenied):
        services.approve_purchase(actor=teammate, purchase=purchase)

    assert set_card(owner, org, localstripe) == "Visa •••• 4242"
    op = services.approve_purchase(actor=owner, purchase=purchase, comment="for the support audits")
    purchase.refresh_from_db()
    assert purchase.state == PurchaseRequest.State.APPROVED
    assert Approval.objects.get(purchase=purchase).comment == "for the support audits"
    assert Notification.objects.filter(user=teammate, title__startswith="Approved").exists()

    assert run(op).state == Operation.State.SUCCEEDED
    purchase.refresh_from_db()
    subscription = stripe_get(localstripe, f"/v1/subscriptions/{purchase.stripe_subscription_id}")
    assert subscription["status"] == "active"
    assert subscription["metadata"]["servicebay_purchase"] == str(purchase.pk)
    assert subscription["items"]["data"][0]["plan"]["id"] == prices["large"].stripe_price_id

    # localstripe's signed invoice.payment_succeeded webhook marks it paid and entitles the org.
    purchase = wait_for_state(purchase, PurchaseRequest.State.PAID)
    assert purchase.charged
    entitlement = Entitlement.objects.get(purchase=purchase)
    assert entitlement.stripe_subscription_id == purchase.stripe_subscription_id
    assert Notification.objects.filter(user=teammate, title__startswith="Purchase paid").exists()

    instance, provision = instance_services.provision_instance(
        actor=teammate, org=org, service_type=stripe_listing.service_type, name="db", plan=large, cluster=cluster
    )
    assert run(provision).state == Operation.State.SUCCEEDED
    instance.refresh_from_db()
    assert instance.state == Instance.State.READY

    # One live instance per entitlement: a second one needs a second purchase.
    with pytest.raises(ValidationError):
        instance_services.provision_instance(
            actor=teammate, org=org, service_type=stripe_listing.service_type, name="db2", plan=large, cluster=cluster
        )

    deprovision = instance_services.deprovision_instance(actor=teammate, instance=instance)
    entitlement.refresh_from_db()
    assert entitlement.state == Entitlement.State.ENDING
    end = Operation.objects.get(kind="entitlement.end", target_id=str(entitlement.pk))
    assert run(end).state == Operation.State.SUCCEEDED
    assert stripe_get(localstripe, f"/v1/subscriptions/{purchase.stripe_subscription_id}")["cancel_at_period_end"]
    entitlement.refresh_from_db()
    assert entitlement.ends_at is not None
    assert run(deprovision).state == Operation.State.SUCCEEDED


def test_within_limit_is_approved_automatically(localstripe, live_server, stripe_listing, org, owner, teammate):
    set_card(owner, org, localstripe)
    purchase, op = services.request_purchase(actor=teammate, org=org, listing=stripe_listing, plan_slug="small")
    assert purchase.state == PurchaseRequest.State.APPROVED
    assert Approval.objects.get(purchase=purchase).decision == Approval.Decision.AUTO
    assert not Notification.objects.filter(user=owner).exists()  # nothing for admins to do
    run(op)
    wait_for_state(purchase, PurchaseRequest.State.PAID)
    assert services.monthly_spend(org) == 20

    # Stripe redelivers: the very event localstripe signed and sent, delivered twice more, changes nothing.
    paid_event = StripeEvent.objects.get(type="invoice.payment_succeeded", outcome="paid")
    event = stripe_get(localstripe, f"/v1/events/{paid_event.pk}")
    payload = json.dumps(event).encode()
    t = int(time.time())
    signature = hmac.new(WEBHOOK_SECRET.encode(), b"%d.%s" % (t, payload), hashlib.sha256).hexdigest()
    for _ in range(2):
        response = httpx.post(
            f"{live_server.url}/marketplace/webhooks/stripe/",
            content=payload,
            headers={"Stripe-Signature": f"t={t},v1={signature}", "Content-Type": "application/json"},
        )
        assert response.text == "duplicate"
    assert Entitlement.objects.filter(org=org).count() == 1


def test_declined_card_leaves_purchase_unpaid_with_message_and_notifies(
    localstripe, stripe_listing, org, owner, teammate
):
    assert set_card(owner, org, localstripe, number="4000000000000341").endswith("0341")
    purchase, op = services.request_purchase(actor=teammate, org=org, listing=stripe_listing, plan_slug="small")
    run(op)
    purchase = wait_for_state(purchase, PurchaseRequest.State.PAYMENT_FAILED)
    assert purchase.payment_message
    assert not Entitlement.objects.filter(purchase=purchase).exists()
    for user in (teammate, owner):
        note = Notification.objects.get(user=user, title__startswith="Payment failed")
        assert note.level == "danger" and note.url == purchase.get_absolute_url()
    with pytest.raises(ValidationError):  # the org still has no entitlement
        require_entitlement(org, stripe_listing.service_type, stripe_listing.service_type.plans.get(slug="small"))

    # The decline came back in the subscription's answer (incomplete) and the handler recorded it;
    # localstripe sends no invoice.payment_failed for a first invoice declined at once, so no late
    # webhook can meet the retried purchase below.
    invoice_id = purchase.stripe_invoice_id
    assert stripe_get(localstripe, f"/v1/invoices/{invoice_id}")["status"] == "open"
    assert not StripeEvent.objects.filter(type="invoice.payment_failed").exists()

    # An admin sets up a working card and retries: the open invoice is paid with it, and the
    # provider's invoice.payment_succeeded webhook makes the purchase paid, exactly once.
    set_card(owner, org, localstripe)
    retry = run(services.retry_payment(actor=owner, purchase=purchase))
    assert retry.state == Operation.State.SUCCEEDED, list(retry.steps.values_list("message", flat=True))
    assert stripe_get(localstripe, f"/v1/invoices/{invoice_id}")["status"] == "paid"
    assert stripe_get(localstripe, f"/v1/subscriptions/{purchase.stripe_subscription_id}")["status"] == "active"
    paid = wait_for_event("invoice.payment_succeeded")
    assert paid.outcome == "paid"
    purchase.refresh_from_db()
    assert purchase.state == PurchaseRequest.State.PAID and purchase.charged
    assert purchase.payment_message == ""
    assert Entitlement.objects.get(purchase=purchase).state == Entitlement.State.ACTIVE
    assert StripeEvent.objects.filter(type="invoice.payment_succeeded").count() == 1


def test_no_payment_method_fails_clearly(localstripe, stripe_listing, org, teammate):
    purchase, op = services.request_purchase(actor=teammate, org=org, listing=stripe_listing, plan_slug="small")
    assert run(op).state == Operation.State.FAILED
    purchase.refresh_from_db()
    assert purchase.state == PurchaseRequest.State.PAYMENT_FAILED
    assert "payment method" in purchase.payment_message


def test_upgrade_small_to_large_is_bought_then_applied(localstripe, stripe_listing, org, owner, teammate, cluster):
    """Scenario 10: the difference is approved and paid, the subscription changes, the update runs by itself."""
    set_card(owner, org, localstripe)
    small = stripe_listing.service_type.plans.get(slug="small")
    large = stripe_listing.service_type.plans.get(slug="large")
    bought, op = services.request_purchase(actor=teammate, org=org, listing=stripe_listing, plan_slug="small")
    run(op)
    bought = wait_for_state(bought, PurchaseRequest.State.PAID)
    instance, provision = instance_services.provision_instance(
        actor=teammate, org=org, service_type=stripe_listing.service_type, name="db", plan=small, cluster=cluster
    )
    run(provision)

    instance.refresh_from_db()
    held = instance_services.update_instance(actor=teammate, instance=instance, plan=large)
    assert held.kind == "purchase.await"  # 20 + 130 > 100: it waits for an admin
    upgrade = PurchaseRequest.objects.get(kind="upgrade", instance=instance)
    assert upgrade.monthly_amount == 130 and upgrade.state == PurchaseRequest.State.PENDING
    assert run(held).state == Operation.State.SUCCEEDED
    instance.refresh_from_db()
    assert instance.plan == small  # nothing changed yet

    pay = services.approve_purchase(actor=owner, purchase=upgrade, comment="go")
    run(pay)
    upgrade = wait_for_state(upgrade, PurchaseRequest.State.PAID)
    assert upgrade.stripe_subscription_id == bought.stripe_subscription_id  # the same subscription, changed
    charged = stripe_get(localstripe, f"/v1/payment_intents/{upgrade.stripe_payment_intent_id}")
    assert charged["amount"] == 13000 and charged["status"] == "succeeded"  # the difference, charged first
    sub = stripe_get(localstripe, f"/v1/subscriptions/{bought.stripe_subscription_id}")
    assert sub["items"]["data"][0]["plan"]["id"] == upgrade.price.stripe_price_id
    assert Entitlement.objects.get(purchase=bought).state == Entitlement.State.ENDED
    assert Entitlement.objects.get(purchase=upgrade).state == Entitlement.State.ACTIVE
    assert services.monthly_spend(org) == 150

    apply = Operation.objects.get(kind="purchase.apply_upgrade", target_id=str(upgrade.pk))
    assert run(apply).state == Operation.State.SUCCEEDED, list(apply.steps.values_list("message", flat=True))
    update = Operation.objects.get(kind="instance.update", target_id=str(instance.pk))
    assert run(update).state == Operation.State.SUCCEEDED
    instance.refresh_from_db()
    assert instance.plan == large and instance.parameters["replicas"] == 3


def test_declined_upgrade_changes_nothing_at_stripe_and_a_retry_upgrades(
    localstripe, stripe_listing, org, owner, teammate, cluster, caplog
):
    """The difference is charged before the subscription moves: a declined card (…0341) leaves the
    subscription, the entitlement and the instance on small, says so, and a retry with a good card
    upgrades once. No Stripe key or webhook secret reaches a step, an audit entry, a notification
    or a log line."""
    caplog.set_level("DEBUG")
    set_card(owner, org, localstripe)
    small = stripe_listing.service_type.plans.get(slug="small")
    large = stripe_listing.service_type.plans.get(slug="large")
    bought, op = services.request_purchase(actor=teammate, org=org, listing=stripe_listing, plan_slug="small")
    run(op)
    bought = wait_for_state(bought, PurchaseRequest.State.PAID)
    subscription_id = bought.stripe_subscription_id
    small_plan_id = bought.price.stripe_price_id
    instance, provision = instance_services.provision_instance(
        actor=teammate, org=org, service_type=stripe_listing.service_type, name="db", plan=small, cluster=cluster
    )
    assert run(provision).state == Operation.State.SUCCEEDED
    instance.refresh_from_db()

    assert set_card(owner, org, localstripe, number="4000000000000341").endswith("0341")
    held = instance_services.update_instance(actor=teammate, instance=instance, plan=large)
    upgrade = PurchaseRequest.objects.get(kind="upgrade", instance=instance)
    run(held)
    pay = services.approve_purchase(actor=owner, purchase=upgrade)
    failed = run(pay)
    assert failed.state == Operation.State.FAILED
    upgrade.refresh_from_db()
    assert upgrade.state == PurchaseRequest.State.PAYMENT_FAILED
    assert "declined" in upgrade.payment_message and "db stays on Small" in upgrade.payment_message
    assert upgrade.stripe_payment_intent_id == ""  # nothing was charged
    # Stripe agrees with Servicebay: still on small, still active.
    sub = stripe_get(localstripe, f"/v1/subscriptions/{subscription_id}")
    assert sub["items"]["data"][0]["plan"]["id"] == small_plan_id and sub["status"] == "active"
    assert Entitlement.objects.get(purchase=bought).state == Entitlement.State.ACTIVE
    assert not Entitlement.objects.filter(purchase=upgrade).exists()
    assert not Operation.objects.filter(kind="purchase.apply_upgrade").exists()
    instance.refresh_from_db()
    assert instance.plan == small
    for user in (teammate, owner):  # told, with the way out
        note = Notification.objects.get(user=user, title__startswith="Payment failed")
        assert "stays on Small" in note.body and note.url == upgrade.get_absolute_url()
    page = Client()
    page.force_login(owner)
    html = page.get(upgrade.get_absolute_url()).content.decode()
    assert "db stays on Small" in html and 'id="retry-payment"' in html
    # A late webhook for the failed charge changes nothing.
    time.sleep(1.5)
    upgrade.refresh_from_db()
    assert upgrade.state == PurchaseRequest.State.PAYMENT_FAILED

    # An admin sets up a working card and retries: charged once, then the subscription moves.
    set_card(owner, org, localstripe)
    retry = run(services.retry_payment(actor=owner, purchase=upgrade))
    assert retry.state == Operation.State.SUCCEEDED, list(retry.steps.values_list("message", flat=True))
    upgrade.refresh_from_db()
    assert upgrade.state == PurchaseRequest.State.PAID and upgrade.charged
    intent = stripe_get(localstripe, f"/v1/payment_intents/{upgrade.stripe_payment_intent_id}")
    assert intent["status"] == "succeeded" and intent["amount"] == 13000
    assert intent["metadata"]["servicebay_purchase"] == str(upgrade.pk)
    sub = stripe_get(localstripe, f"/v1/subscriptions/{subscription_id}")
    assert sub["items"]["data"][0]["plan"]["id"] == upgrade.price.stripe_price_id
    assert Entitlement.objects.get(purchase=bought).state == Entitlement.State.ENDED
    assert Entitlement.objects.get(purchase=upgrade).state == Entitlement.State.ACTIVE
    operations.execute(retry.pk)  # a redelivered message changes nothing
    assert PurchaseRequest.objects.get(pk=upgrade.pk).state == PurchaseRequest.State.PAID

    apply = Operation.objects.get(kind="purchase.apply_upgrade", target_id=str(upgrade.pk))
    assert run(apply).state == Operation.State.SUCCEEDED
    update = Operation.objects.get(kind="instance.update", target_id=str(instance.pk))
    assert run(update).state == Operation.State.SUCCEEDED
    instance.refresh_from_db()
    assert instance.plan == large

    # No secret anywhere it could leak.
    stored = [
        *OperationStep.objects.values_list("message", flat=True),
        *(str(v) for v in Operation.objects.values_list("result", "error", "params")),
        *(str(v) for v in AuditEvent.objects.values_list("changes", "target_repr")),
        *Notification.objects.values_list("body", flat=True),
        *StripeEvent.objects.values_list("outcome", flat=True),
        caplog.text,
    ]
    for secret in (API_KEY, WEBHOOK_SECRET):
        assert not [text for text in stored if secret in text]
