"""Payment work that gives up (provider unreachable until the retries run out) leaves a clear state.

Found in review: the purchase stayed "approved, payment in progress" for ever (neither retry nor cancel
possible, its amount counted in the month's spend), and an entitlement stayed "ends at period end"
while the provider, never told, kept billing.
"""

from __future__ import annotations

import pytest

from marketplace import services
from marketplace.models import Entitlement, PurchaseRequest
from osbapi.tests.conftest import buy, sell_type
from portal import operations
from portal.models import AuditEvent, Operation

pytestmark = pytest.mark.django_db


def unreachable_stripe(settings):
    """After the listing is published (without a provider): from now on the provider does not answer."""
    settings.STRIPE_API_KEY = "sk_test_unreachable"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_unreachable"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    settings.STRIPE_TIMEOUT_SECONDS = 2


def test_a_payment_that_gives_up_is_payment_failed_and_can_be_cancelled(org, owner, settings):
    listing = sell_type()
    unreachable_stripe(settings)
    org.monthly_spend_limit = 1000
    org.save()
    purchase, op = services.request_purchase(actor=owner, org=org, listing=listing, plan_slug="small")
    Operation.objects.filter(pk=op.pk).update(max_attempts=1)
    operations.execute(op.pk)
    op.refresh_from_db()
    purchase.refresh_from_db()
    assert op.state == Operation.State.FAILED and "Gave up" in op.error
    assert purchase.state == PurchaseRequest.State.PAYMENT_FAILED and purchase.payment_message
    services.cancel_purchase(actor=owner, purchase=purchase)
    purchase.refresh_from_db()
    assert purchase.state == PurchaseRequest.State.CANCELLED
    assert services.monthly_spend(org) == 0


def test_an_end_the_provider_never_heard_of_leaves_the_entitlement_active(org, owner, settings):
    listing = sell_type()
    buy(org, listing, "small")  # paid without a provider …
    entitlement = Entitlement.objects.get(org=org)
    Entitlement.objects.filter(pk=entitlement.pk).update(stripe_subscription_id="sub_never_told")
    entitlement.refresh_from_db()
    unreachable_stripe(settings)  # … which now exists but does not answer
    op = services.end_entitlement(entitlement, actor=owner)
    entitlement.refresh_from_db()
    assert op is not None and entitlement.state == Entitlement.State.ENDING
    Operation.objects.filter(pk=op.pk).update(max_attempts=1)
    operations.execute(op.pk)
    op.refresh_from_db()
    entitlement.refresh_from_db()
    assert op.state == Operation.State.FAILED
    assert entitlement.state == Entitlement.State.ACTIVE  # still billed: still usable, and it says so
    assert AuditEvent.objects.filter(action="entitlement.end_failed", org=org).exists()
