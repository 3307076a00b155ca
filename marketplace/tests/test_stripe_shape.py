"""The shape of every Stripe call Servicebay makes, checked by stripe-mock (Stripe's official mock,
which validates each request against Stripe's OpenAPI spec) — including /v1/prices, which
localstripe lacks. stripe-mock is stateless: ids in its answers are fixtures.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace import billing
from marketplace.tests.conftest import API_KEY


@pytest.fixture
def stripe_mock(stripe_mock_url, settings):
    settings.STRIPE_API_KEY = API_KEY
    settings.STRIPE_WEBHOOK_SECRET = "whsec_x"
    settings.STRIPE_API_BASE = stripe_mock_url
    settings.STRIPE_USE_LEGACY_PLANS = False
    return billing.StripeBilling()


def test_publishing_creates_a_product_and_recurring_monthly_prices(stripe_mock):
    product = stripe_mock.create_product(listing_id=1, name="Managed Postgres", summary="PG", idempotency_key="l-1")
    assert product.startswith("prod_")
    price = stripe_mock.create_recurring_price(
        product_id=product, amount=Decimal("149.99"), currency="usd", plan_slug="large", idempotency_key="p-1"
    )
    assert price.startswith("price_")
    assert billing.minor_units(Decimal("149.99")) == 14999
    stripe_mock.archive_product(product)


def test_customer_payment_method_subscription_upgrade_and_cancel(stripe_mock):
    customer = stripe_mock.create_customer(org_slug="acme", org_name="Acme", idempotency_key="org-1")
    assert customer.startswith("cus_")
    label = stripe_mock.set_default_payment_method(customer_id=customer, payment_method_id="pm_card_visa")
    assert label
    sub = stripe_mock.create_subscription(customer_id=customer, price_id="price_large", purchase_id="p-1")
    assert sub.id.startswith("sub_") and sub.status
    # An upgrade: the difference is charged off-session first, then the price changes without proration.
    charge = stripe_mock.charge(
        customer_id=customer,
        payment_method_id="pm_card_visa",
        amount=Decimal("130.00"),
        currency="usd",
        purchase_id="p-2",
        idempotency_key="purchase-p-2-charge-op-1",
    )
    assert charge.id.startswith("pi_") and charge.status
    assert stripe_mock.charge_status(charge.id)
    assert stripe_mock.change_subscription_plan(subscription_id=sub.id, price_id="price_xl", purchase_id="p-2") in (
        True,
        False,
    )
    invoice = sub.latest_invoice or "in_1"
    assert stripe_mock.pay_invoice(invoice)
    assert stripe_mock.invoice_status(invoice)
    assert stripe_mock.subscription(sub.id).id.startswith("sub_")
    assert stripe_mock.payment_error(invoice)
    stripe_mock.cancel_at_period_end(sub.id)
    stripe_mock.subscription_purchase_id(sub.id)


def test_a_request_stripe_would_refuse_is_a_payment_error(stripe_mock):
    with pytest.raises(billing.PaymentError):  # stripe-mock validates: an unknown parameter is a 400
        stripe_mock._call(stripe_mock.v1.customers.create, params={"no_such_parameter": "x"})


def test_an_unreachable_provider_is_transient(settings):
    settings.STRIPE_API_KEY = API_KEY
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    with pytest.raises(billing.PaymentTransient):
        billing.StripeBilling().create_customer(org_slug="acme", org_name="Acme", idempotency_key="k")
