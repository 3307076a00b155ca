"""Stripe webhooks: the signature is verified, and each event is processed once whatever the order.

Events are signed exactly as Stripe (and localstripe) sign them: HMAC-SHA256 of "<t>.<payload>".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from marketplace import services
from marketplace.models import Entitlement, PurchaseRequest, StripeEvent
from marketplace.tests.conftest import WEBHOOK_SECRET

URL = "/marketplace/webhooks/stripe/"


def configure(settings):
    settings.STRIPE_API_KEY = "sk_test_servicebay"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # unused: every event below names a known invoice


def signed(event: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[bytes, str]:
    payload = json.dumps(event).encode()
    t = timestamp or int(time.time())
    signature = hmac.new(secret.encode(), b"%d.%s" % (t, payload), hashlib.sha256).hexdigest()
    return payload, f"t={t},v1={signature}"


def deliver(event: dict, **kwargs):
    payload, header = signed(event, **kwargs)
    return Client().post(URL, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def invoice_event(event_id: str, kind: str, purchase: PurchaseRequest) -> dict:
    return {
        "id": event_id,
        "type": kind,
        "created": int(time.time()),
        "data": {"object": {"id": purchase.stripe_invoice_id, "object": "invoice", "subscription": "sub_1"}},
    }


@pytest.fixture
def approved(listing, org, owner, teammate, settings):
    configure(settings)  # after the listing was published without a provider
    org.monthly_spend_limit = 1000
    org.save()
    purchase, _ = services.request_purchase(actor=teammate, org=org, listing=listing, plan_slug="large")
    services.record_payment_pending(purchase, stripe_subscription_id="sub_1", stripe_invoice_id="in_1")
    return purchase


def test_duplicates_give_exactly_one_entitlement(approved):
    paid = invoice_event("evt_paid", "invoice.payment_succeeded", approved)
    assert deliver(paid).content == b"paid"
    assert deliver(paid).content == b"duplicate"
    assert deliver(paid).content == b"duplicate"
    approved.refresh_from_db()
    assert approved.state == PurchaseRequest.State.PAID
    assert Entitlement.objects.filter(purchase=approved).count() == 1
    assert StripeEvent.objects.filter(pk="evt_paid").count() == 1


def test_a_late_failure_never_undoes_a_payment(approved):
    assert deliver(invoice_event("evt_paid", "invoice.payment_succeeded", approved)).status_code == 200
    assert deliver(invoice_event("evt_paid_again", "invoice.paid", approved)).content == b"already settled"
    assert deliver(invoice_event("evt_failed", "invoice.payment_failed", approved)).content == b"already settled"
    approved.refresh_from_db()
    assert approved.state == PurchaseRequest.State.PAID
    assert Entitlement.objects.filter(purchase=approved).count() == 1


def test_failure_then_success_out_of_order_ends_paid_once(approved):
    assert deliver(invoice_event("evt_failed", "invoice.payment_failed", approved)).content == b"payment failed"
    approved.refresh_from_db()
    assert approved.state == PurchaseRequest.State.PAYMENT_FAILED
    assert deliver(invoice_event("evt_paid", "invoice.payment_succeeded", approved)).content == b"paid"
    assert deliver(invoice_event("evt_failed", "invoice.payment_failed", approved)).content == b"duplicate"
    approved.refresh_from_db()
    assert approved.state == PurchaseRequest.State.PAID
    assert Entitlement.objects.count() == 1


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=1,v1=deadbeef",
        "garbage",
    ],
)
def test_forged_or_missing_signature_is_rejected(approved, header):
    payload = json.dumps(invoice_event("evt_forged", "invoice.payment_succeeded", approved)).encode()
    response = Client().post(URL, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    approved.refresh_from_db()
    assert approved.state == PurchaseRequest.State.APPROVED


def test_signed_with_another_secret_or_stale_is_rejected(approved):
    event = invoice_event("evt_forged", "invoice.payment_succeeded", approved)
    assert deliver(event, secret="whsec_someone_else").status_code == 400
    assert deliver(event, timestamp=int(time.time()) - 3600).status_code == 400  # a replay
    assert not StripeEvent.objects.exists()


def test_webhooks_off_without_a_secret(approved, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert deliver(invoice_event("evt_1", "invoice.payment_succeeded", approved)).status_code == 400


def test_subscription_deleted_ends_entitlement(approved):
    deliver(invoice_event("evt_paid", "invoice.payment_succeeded", approved))
    event = {"id": "evt_del", "type": "customer.subscription.deleted", "data": {"object": {"id": "sub_1"}}}
    assert deliver(event).content == b"1 entitlement(s) ended"
    assert Entitlement.objects.get(purchase=approved).state == Entitlement.State.ENDED


# --- garbage never reaches the database, and never answers 500 ------------------------------

from hypothesis import HealthCheck, given  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
)
headers = st.one_of(
    st.just(""),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    st.builds(
        lambda t, v: f"t={t},v1={v}",
        st.integers(min_value=-(2**40), max_value=2**40) | st.just(int(time.time())),
        st.text(alphabet="0123456789abcdef", max_size=64),
    ),
)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, header=headers)
def test_random_bodies_and_signatures_are_400_and_store_nothing(approved, body, header):
    response = Client().post(URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    assert PurchaseRequest.objects.get(pk=approved.pk).state == PurchaseRequest.State.APPROVED


def sign_raw(payload: bytes) -> str:
    t = int(time.time())
    return f"t={t},v1={hmac.new(WEBHOOK_SECRET.encode(), b'%d.%s' % (t, payload), hashlib.sha256).hexdigest()}"


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_correctly_signed_garbage_is_400_and_stores_nothing(approved, body):
    """Even with a valid signature (a leaked secret, a bug at the sender), a body that is not an event."""
    response = Client().post(URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign_raw(body))
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


MALFORMED = [
    [],
    "evt",
    {"id": 1, "type": "invoice.paid"},
    {"id": "evt_1", "type": ["invoice.paid"]},
    {"id": "evt_1"},
    {"id": "x" * 256, "type": "invoice.paid"},
    {"id": "evt_\u0000", "type": "invoice.paid"},
    {"id": "evt_1", "type": "invoice.paid", "created": "yesterday"},
    {"id": "evt_1", "type": "invoice.paid", "created": 10**20},
    {"id": "evt_1", "type": "invoice.paid", "data": "in_1"},
    {"id": "evt_1", "type": "invoice.paid", "data": {"object": "in_1"}},
    {"id": "evt_1", "type": "invoice.paid", "data": {"object": None}},
]


@pytest.mark.parametrize("event", MALFORMED, ids=range(len(MALFORMED)))
def test_signed_events_of_the_wrong_shape_are_400(approved, event):
    response = deliver(event)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


ODD_OBJECTS = [
    {"id": 5, "subscription": ["sub_1"], "metadata": "x", "last_payment_error": "x"},
    {"id": "in_\u0000", "subscription": {"id": 7}, "metadata": {"servicebay_purchase": "not-a-uuid"}},
    {"id": "in_nobody", "metadata": {"servicebay_purchase": {"nested": True}}},
    {"id": "in_nobody", "last_payment_error": {"message": 42}},
]


@pytest.mark.parametrize("kind", ["invoice.paid", "invoice.payment_failed", "customer.subscription.deleted"])
@pytest.mark.parametrize("obj", ODD_OBJECTS, ids=range(len(ODD_OBJECTS)))
def test_well_formed_events_with_odd_objects_are_acknowledged_not_500(approved, kind, obj):
    """A real event shape with fields of unexpected types: answered (so Stripe stops), nothing moves."""
    response = deliver({"id": "evt_odd", "type": kind, "created": 1, "data": {"object": obj}})
    assert response.status_code == 200
    assert StripeEvent.objects.get(pk="evt_odd").outcome in ("unknown invoice", "0 entitlement(s) ended", "ignored")
    approved.refresh_from_db()
    assert approved.state == PurchaseRequest.State.APPROVED
