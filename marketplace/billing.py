"""Payments: the only module of Servicebay that imports ``stripe``.

``provider()`` returns ``StripeBilling`` when STRIPE_API_KEY is set, else ``NoProvider``: the
embedded default, where purchases go through approval and become paid at once, labelled
"not charged: no payment provider". Callers (operation handlers in marketplace.handlers) turn
``PaymentTransient`` into ``RetryLater`` and ``PaymentDeclined``/``PaymentError`` into a failed
payment with the message shown to users. Messages never hold keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

NOT_CHARGED = "not charged: no payment provider"


class PaymentError(Exception):
    """A permanent failure; the message is shown to users."""


class PaymentDeclined(PaymentError):
    """The card was declined (or needs an action the customer must take)."""


class PaymentTransient(Exception):
    """The provider could not be reached or asked us to slow down: try again later."""


class WebhookError(Exception):
    """A webhook whose signature or payload is not valid."""


@dataclass(frozen=True)
class SubscriptionResult:
    id: str
    status: str
    latest_invoice: str


@dataclass(frozen=True)
class AttachedPaymentMethod:
    id: str
    label: str


@dataclass(frozen=True)
class ChargeResult:
    id: str
    status: str


def minor_units(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal("1")))


class NoProvider:
    configured = False
    label = NOT_CHARGED


def is_configured() -> bool:
    return bool(settings.STRIPE_API_KEY)


def provider() -> StripeBilling | NoProvider:
    return StripeBilling() if is_configured() else NoProvider()


class StripeBilling:
    configured = True
    label = "Stripe"

    def __init__(self):
        import stripe

        self._stripe = stripe
        kwargs = {"max_network_retries": 0}
        if settings.STRIPE_API_BASE:
            kwargs["base_addresses"] = {"api": settings.STRIPE_API_BASE.rstrip("/")}
        http = stripe.HTTPXClient(timeout=settings.STRIPE_TIMEOUT_SECONDS, allow_sync_methods=True)
        kwargs["http_client"] = http
        self.client = stripe.StripeClient(settings.STRIPE_API_KEY, **kwargs)
        self.v1 = self.client.v1

    # --- errors --------------------------------------------------------------------------

    def _call(self, fn, *args, **kwargs):
        stripe = self._stripe
        try:
            return fn(*args, **kwargs)
        except stripe.CardError as exc:
            raise PaymentDeclined(exc.user_message or "The card was declined.") from exc
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise PaymentTransient(f"The payment provider is not reachable ({type(exc).__name__}).") from exc
        except stripe.AuthenticationError as exc:
            raise PaymentError("The payment provider rejected Servicebay's API key (STRIPE_API_KEY).") from exc
        except stripe.APIError as exc:
            if (exc.http_status or 500) >= 500:
                raise PaymentTransient(f"The payment provider answered {exc.http_status or 'an error'}.") from exc
            raise PaymentError(f"The payment provider refused the request: {exc.user_message or exc}") from exc
        except stripe.StripeError as exc:
            raise PaymentError(f"The payment provider refused the request: {exc.user_message or exc}") from exc

    # --- vendor side ---------------------------------------------------------------------

    def create_product(self, *, listing_id: int, name: str, summary: str, idempotency_key: str) -> str:
        params = {"name": name, "metadata": {"servicebay_listing": str(listing_id)}}
        if summary:
            params["description"] = summary
        product = self._call(self.v1.products.create, params=params, options={"idempotency_key": idempotency_key})
        return product.id

    def create_recurring_price(
        self, *, product_id: str, amount: Decimal, currency: str, plan_slug: str, idempotency_key: str
    ) -> str:
        """A monthly recurring price (or a legacy plan with STRIPE_USE_LEGACY_PLANS)."""
        options = {"idempotency_key": idempotency_key}
        metadata = {"servicebay_plan": plan_slug}
        if settings.STRIPE_USE_LEGACY_PLANS:
            params = {
                "product": product_id,
                "amount": minor_units(amount),
                "currency": currency,
                "interval": "month",
                "metadata": metadata,
            }
            return self._call(self.v1.plans.create, params=params, options=options).id
        params = {
            "product": product_id,
            "unit_amount": minor_units(amount),
            "currency": currency,
            "recurring": {"interval": "month"},
            "metadata": metadata,
        }
        return self._call(self.v1.prices.create, params=params, options=options).id

    def archive_product(self, product_id: str) -> None:
        self._call(self.v1.products.update, product_id, params={"active": "false"})

    # --- buyer side ----------------------------------------------------------------------

    def create_customer(self, *, org_slug: str, org_name: str, idempotency_key: str) -> str:
        params = {"name": org_name, "metadata": {"servicebay_org": org_slug}}
        return self._call(self.v1.customers.create, params=params, options={"idempotency_key": idempotency_key}).id

    def set_default_payment_method(self, *, customer_id: str, payment_method_id: str) -> AttachedPaymentMethod:
        """Attach the payment method to the customer and make it the default.

        Returns the attached method's id (a test token such as ``pm_card_visa`` becomes a new
        PaymentMethod) and a label for people. Attaching an attached method again is harmless.
        """
        pm = self._call(self.v1.payment_methods.attach, payment_method_id, params={"customer": customer_id})
        self._call(
            self.v1.customers.update, customer_id, params={"invoice_settings": {"default_payment_method": pm.id}}
        )
        card = getattr(pm, "card", None)
        label = f"{str(card.brand).title()} •••• {card.last4}" if card is not None else str(pm.type)
        return AttachedPaymentMethod(pm.id, label)

    def _item(self, price_id: str) -> dict:
        return {"plan": price_id} if settings.STRIPE_USE_LEGACY_PLANS else {"price": price_id}

    def create_subscription(self, *, customer_id: str, price_id: str, purchase_id: str) -> SubscriptionResult:
        params = {
            "customer": customer_id,
            "items": [self._item(price_id)],
            "metadata": {"servicebay_purchase": purchase_id},
        }
        sub = self._call(
            self.v1.subscriptions.create, params=params, options={"idempotency_key": f"purchase-{purchase_id}-sub"}
        )
        return SubscriptionResult(sub.id, sub.status, _id(sub.latest_invoice))

    def charge(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount: Decimal,
        currency: str,
        purchase_id: str,
        idempotency_key: str,
    ) -> ChargeResult:
        """Charge ``amount`` now, off-session, to the org's card (the difference of a plan upgrade).

        A decline raises ``PaymentDeclined`` and changes nothing else: the subscription is only
        moved to the new plan (``change_subscription_plan``) once this charge succeeded.
        """
        params = {
            "amount": minor_units(amount),
            "currency": currency,
            "customer": customer_id,
            "payment_method": payment_method_id,
            "payment_method_types": ["card"],
            "confirm": True,
            "off_session": True,
            "metadata": {"servicebay_purchase": purchase_id},
        }
        intent = self._call(self.v1.payment_intents.create, params=params, options={"idempotency_key": idempotency_key})
        return ChargeResult(intent.id, intent.status)

    def charge_status(self, payment_intent_id: str) -> str:
        return self._call(self.v1.payment_intents.retrieve, payment_intent_id).status

    def change_subscription_plan(self, *, subscription_id: str, price_id: str, purchase_id: str) -> bool:
        """Move the subscription's item to ``price_id`` without proration (the difference was charged).

        Idempotent: False when the subscription is already on that price.
        """
        sub = self._call(self.v1.subscriptions.retrieve, subscription_id)
        item = sub["items"]["data"][0]
        if _id(getattr(item, "price", None) or getattr(item, "plan", None)) == price_id:
            return False
        # The legacy API (localstripe) spells "no proration" ``prorate=false``.
        no_proration = {"prorate": False} if settings.STRIPE_USE_LEGACY_PLANS else {"proration_behavior": "none"}
        self._call(
            self.v1.subscriptions.update,
            subscription_id,
            params={
                "items": [{"id": item["id"], **self._item(price_id)}],
                **no_proration,
            },
            options={"idempotency_key": f"purchase-{purchase_id}-change"},
        )
        return True

    def subscription(self, subscription_id: str) -> SubscriptionResult:
        sub = self._call(self.v1.subscriptions.retrieve, subscription_id)
        return SubscriptionResult(sub.id, sub.status, _id(sub.latest_invoice))

    def payment_error(self, invoice_id: str) -> str:
        """Why the invoice's payment failed (the PaymentIntent's last error), for users."""
        invoice = self._call(self.v1.invoices.retrieve, invoice_id)
        intent_id = _id(getattr(invoice, "payment_intent", None))
        if intent_id:
            intent = self._call(self.v1.payment_intents.retrieve, intent_id)
            error = getattr(intent, "last_payment_error", None)
            if error and getattr(error, "message", None):
                return str(error.message)
        return "The card was declined."

    def pay_invoice(self, invoice_id: str) -> str:
        return self._call(self.v1.invoices.pay, invoice_id).status

    def invoice_status(self, invoice_id: str) -> str:
        return self._call(self.v1.invoices.retrieve, invoice_id).status

    def cancel_at_period_end(self, subscription_id: str) -> int | None:
        sub = self._call(self.v1.subscriptions.update, subscription_id, params={"cancel_at_period_end": True})
        return getattr(sub, "current_period_end", None)

    def subscription_purchase_id(self, subscription_id: str) -> str:
        sub = self._call(self.v1.subscriptions.retrieve, subscription_id)
        metadata = sub.metadata.to_dict() if getattr(sub, "metadata", None) else {}
        return str(metadata.get("servicebay_purchase", ""))

    # --- webhooks ------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature: str) -> dict:
        return parse_webhook(payload, signature)


def parse_webhook(payload: bytes, signature: str) -> dict:
    """The event of a webhook whose ``Stripe-Signature`` matches STRIPE_WEBHOOK_SECRET."""
    import json

    import stripe

    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookError("Webhooks are not configured (STRIPE_WEBHOOK_SECRET).")
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature or "", secret, tolerance=300)
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        raise WebhookError("The signature does not match.") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookError("The payload is not JSON.") from exc
    if not _is_event(event):
        raise WebhookError("The payload is not a Stripe event.")
    return event


def _is_event(event) -> bool:
    """The shape Servicebay relies on: string id and type, an integer ``created``, a data object."""
    if not isinstance(event, dict):
        return False
    event_id, kind, created = event.get("id"), event.get("type"), event.get("created", 0)
    data = event.get("data", {})
    return (
        isinstance(event_id, str)
        and 0 < len(event_id) <= 255
        and isinstance(kind, str)
        and 0 < len(kind) <= 100
        and "\x00" not in event_id + kind  # PostgreSQL text cannot hold NUL
        and isinstance(created, int)
        and not isinstance(created, bool)
        and 0 <= created < 2**31
        and isinstance(data, dict)
        and isinstance(data.get("object", {}), dict)
    )


def _id(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return getattr(value, "id", None) or (value.get("id", "") if hasattr(value, "get") else "")
