"""Every write of the marketplace app: one transaction each, audited, enqueuing operations on commit.

Purchase states move only forward (``_FORWARD``): a webhook delivered twice, late or out of
order can never take a paid purchase back, and the entitlement is created once per purchase.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from marketplace import billing
from marketplace.markdown import clean_categories
from marketplace.models import (
    Approval,
    BillingAccount,
    Entitlement,
    Listing,
    ListingPrice,
    PurchaseRequest,
    StripeEvent,
)
from portal import audit, operations
from portal.access import has_role, require_role
from portal.models import Operation, Organization, Role, Team
from portal.notifications import notify

State = PurchaseRequest.State
RESERVED_SLUGS = {"approvals", "spend", "billing", "sell", "purchases", "webhooks"}

# --- spend ----------------------------------------------------------------------------------


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def monthly_spend(org: Organization) -> Decimal:
    """What the org is committed to pay each month: active entitlements + approved purchases not yet paid."""
    entitled = Entitlement.objects.filter(
        org=org, state__in=[Entitlement.State.ACTIVE, Entitlement.State.ENDING]
    ).aggregate(total=Sum("price__monthly_amount"))["total"] or Decimal("0")
    in_flight = PurchaseRequest.objects.filter(org=org, state__in=[State.APPROVED, State.PAYMENT_FAILED]).aggregate(
        total=Sum("monthly_amount")
    )["total"] or Decimal("0")
    return entitled + in_flight


def admins_of(org: Organization) -> list:
    User = get_user_model()
    return list(User.objects.filter(memberships__org=org, memberships__role=Role.ADMIN, is_active=True))


# --- vendors: listings ----------------------------------------------------------------------


def _parse_prices(listing_type, prices: dict[str, Any]) -> dict:
    plans = {p.slug: p for p in listing_type.plans.all()}
    if not plans:
        raise ValidationError({"prices": f"{listing_type.slug} has no plans to price: add plans first."})
    parsed = {}
    for slug, plan in plans.items():
        raw = prices.get(slug)
        if raw in (None, ""):
            raise ValidationError({"prices": f"Give a monthly price for the plan {slug} (0 for a free plan)."})
        try:
            amount = Decimal(str(raw)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError) as exc:
            raise ValidationError({"prices": f"The price of {slug} is not a number: {raw!r}."}) from exc
        if amount < 0 or amount > Decimal("1000000"):
            raise ValidationError({"prices": f"The price of {slug} must be between 0 and 1,000,000."})
        parsed[slug] = (plan, amount)
    unknown = set(prices) - set(plans)
    if unknown:
        raise ValidationError({"prices": f"{listing_type.slug} has no plan {sorted(unknown)[0]!r}."})
    return parsed


def create_listing(
    *,
    actor,
    org: Organization,
    service_type,
    summary: str,
    prices: dict[str, Any],
    description: str = "",
    logo_url: str = "",
    categories: list[str] | str | None = None,
    documentation_url: str = "",
    terms: str = "",
    currency: str = "usd",
    slug: str = "",
    via: str = "ui",
) -> Listing:
    """A draft listing of one of the vendor org's types (org admins); publish it to sell it."""
    require_role(actor, org, Role.ADMIN)
    if service_type.org_id != org.pk:
        raise ValidationError({"service_type": "List one of your organization's own types."})
    if Listing.objects.filter(service_type=service_type).exists():
        raise ValidationError({"service_type": f"{service_type.slug} is already listed."})
    parsed = _parse_prices(service_type, prices)
    if (slug or service_type.slug) in RESERVED_SLUGS:
        raise ValidationError({"slug": f"{slug or service_type.slug!r} is reserved: choose another slug."})
    listing = Listing(
        vendor=org,
        service_type=service_type,
        slug=slug or service_type.slug,
        name=service_type.name,
        summary=(summary or "").strip(),
        description=description or "",
        logo_url=logo_url or "",
        categories=clean_categories(categories),
        documentation_url=documentation_url or "",
        terms=terms or "",
        currency=(currency or "usd").lower(),
        created_by=actor,
    )
    listing.full_clean(exclude=["service_type", "vendor"])
    with transaction.atomic():
        try:
            with transaction.atomic():
                listing.save()
        except IntegrityError as exc:
            raise ValidationError({"slug": f"A listing called {listing.slug!r} exists."}) from exc
        ListingPrice.objects.bulk_create(
            ListingPrice(listing=listing, plan=plan, monthly_amount=amount) for plan, amount in parsed.values()
        )
        audit.record(
            actor=actor,
            action="listing.create",
            org=org,
            target=listing,
            via=via,
            changes={"type": service_type.slug, "prices": {s: str(a) for s, (_, a) in parsed.items()}},
        )
    return listing


def update_listing(*, actor, listing: Listing, via: str = "ui", **fields: Any) -> Listing:
    """Change the texts of a listing (prices are fixed once published: list a new plan instead)."""
    require_role(actor, listing.vendor, Role.ADMIN)
    allowed = {"summary", "description", "logo_url", "categories", "documentation_url", "terms", "name"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "This field cannot be changed here."})
    changed = []
    for key, value in fields.items():
        if value is None:
            continue
        if key == "categories":
            value = clean_categories(value)
        if getattr(listing, key) != value:
            setattr(listing, key, value)
            changed.append(key)
    if changed:
        listing.full_clean(exclude=["service_type", "vendor"])
        listing.updated_at = timezone.now()
        with transaction.atomic():
            listing.save()
            audit.record(
                actor=actor,
                action="listing.update",
                org=listing.vendor,
                target=listing,
                via=via,
                changes={"fields": changed},
            )
    return listing


def publish_listing(*, actor, listing: Listing, via: str = "ui") -> Operation:
    """List it on the marketplace: the type becomes public; Stripe product and prices are created."""
    from catalog.services import share_type

    require_role(actor, listing.vendor, Role.ADMIN)
    if listing.state == Listing.State.LISTED:
        raise ValidationError({"listing": f"{listing.name} is already listed."})
    with transaction.atomic():
        if listing.service_type.visibility != "public":
            share_type(actor=actor, type_=listing.service_type, visibility="public", via=via)
        audit.record(actor=actor, action="listing.publish", org=listing.vendor, target=listing, via=via)
        return operations.start_operation(
            org=listing.vendor, kind="listing.publish", target=listing, requested_by=actor
        )


def unlist_listing(*, actor, listing: Listing, via: str = "ui") -> Listing:
    """Hide it from the marketplace; existing entitlements and subscriptions keep working."""
    require_role(actor, listing.vendor, Role.ADMIN)
    with transaction.atomic():
        Listing.objects.filter(pk=listing.pk).update(state=Listing.State.UNLISTED, updated_at=timezone.now())
        audit.record(actor=actor, action="listing.unlist", org=listing.vendor, target=listing, via=via)
    listing.refresh_from_db()
    return listing


def record_listing_published(listing: Listing, *, product_id: str, price_ids: dict[int, str]) -> None:
    """Called by the publish handler once the provider knows the product and its prices."""
    with transaction.atomic():
        for price_pk, price_id in price_ids.items():
            ListingPrice.objects.filter(pk=price_pk, stripe_price_id="").update(stripe_price_id=price_id)
        Listing.objects.filter(pk=listing.pk).update(
            state=Listing.State.LISTED,
            stripe_product_id=product_id or listing.stripe_product_id,
            published_at=listing.published_at or timezone.now(),
            updated_at=timezone.now(),
        )


# --- buyers: billing account ----------------------------------------------------------------


def billing_account(org: Organization) -> BillingAccount:
    return BillingAccount.objects.get_or_create(org=org)[0]


PAYMENT_METHOD_ID = re.compile(r"pm_[A-Za-z0-9_]{1,250}")
PAYMENT_METHOD_KIND = "billing.payment_method"


def set_payment_method(*, actor, org: Organization, payment_method_id: str, via: str = "ui") -> Operation:
    """An org admin asks for the card future purchases are charged to (a Stripe PaymentMethod id).

    Nothing is sent to the provider here: the request is recorded and the ``billing.payment_method``
    operation creates the customer if needed, attaches the card and makes it the default.
    """
    require_role(actor, org, Role.ADMIN)
    if not billing.is_configured():
        raise ValidationError(
            {"payment_method": f"No payment provider is configured: purchases are {billing.NOT_CHARGED}."}
        )
    payment_method_id = (payment_method_id or "").strip()
    if not PAYMENT_METHOD_ID.fullmatch(payment_method_id):
        raise ValidationError({"payment_method": "Give a Stripe PaymentMethod id (pm_…)."})
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(pk=billing_account(org).pk)
        account.requested_payment_method_id = payment_method_id
        account.save(update_fields=["requested_payment_method_id"])
        audit.record(
            actor=actor,
            action="billing.payment_method.request",
            org=org,
            target=account,
            via=via,
            changes={"payment_method": payment_method_id},
        )
        op = operations.start_operation(
            org=org,
            kind=PAYMENT_METHOD_KIND,
            target=account,
            params={"payment_method": payment_method_id},
            requested_by=actor,
        )
    return op


def payment_method_operation(account: BillingAccount | None) -> Operation | None:
    """The latest request to set the org's payment method (its state is shown on the billing page)."""
    if account is None:
        return None
    return (
        Operation.objects.filter(org_id=account.org_id, kind=PAYMENT_METHOD_KIND, target_id=str(account.pk))
        .order_by("-created_at")
        .first()
    )


def record_customer(account: BillingAccount, customer_id: str) -> BillingAccount:
    """Remember the org's customer at the provider as soon as it exists; the first one stays."""
    BillingAccount.objects.filter(pk=account.pk, stripe_customer_id="").update(stripe_customer_id=customer_id)
    account.refresh_from_db()
    return account


def record_payment_method(account: BillingAccount, *, requested: str, attached: str, label: str, actor=None) -> bool:
    """The provider attached the card (``attached``: its id there) and made it the customer's
    default: it becomes the org's card.

    False when an admin asked for another card meanwhile (the newer request wins). Idempotent.
    """
    with transaction.atomic():
        locked = BillingAccount.objects.select_for_update().select_related("org").get(pk=account.pk)
        if locked.requested_payment_method_id != requested:
            return False
        if locked.payment_method_id == attached and locked.payment_method_label == label:
            return True
        locked.payment_method_id = attached
        locked.payment_method_label = label
        locked.updated_by = actor if getattr(actor, "is_authenticated", False) else None
        locked.updated_at = timezone.now()
        locked.save(update_fields=["payment_method_id", "payment_method_label", "updated_by", "updated_at"])
        audit.record(
            actor=actor,
            actor_repr=None if locked.updated_by else "payment provider",
            action="billing.payment_method",
            org=locked.org,
            target=locked,
            via="system",
            changes={"card": label},
        )
    account.refresh_from_db()
    return True


# --- buyers: purchases ----------------------------------------------------------------------


def _decide_automatically(purchase: PurchaseRequest) -> bool:
    """Auto-approve when the org's monthly spend plus this cost stays within its limit."""
    org = purchase.org
    spend = monthly_spend(org)
    within = purchase.monthly_amount <= 0 or (
        purchase.currency == org.currency.lower() and spend + purchase.monthly_amount <= org.monthly_spend_limit
    )
    if within:
        Approval.objects.create(
            purchase=purchase, decision=Approval.Decision.AUTO, spend_before=spend, limit=org.monthly_spend_limit
        )
    return within


def _open_purchase(purchase: PurchaseRequest, actor, via: str) -> Operation | None:
    """Auto-approve and start paying, or wait for an admin (notified). Inside a transaction."""
    if _decide_automatically(purchase):
        purchase.state = State.APPROVED
        purchase.decided_at = timezone.now()
        purchase.save(update_fields=["state", "decided_at"])
        audit.record(
            actor=actor,
            action="purchase.auto_approve",
            org=purchase.org,
            target=purchase,
            via=via,
            changes={"monthly_amount": str(purchase.monthly_amount), "limit": str(purchase.org.monthly_spend_limit)},
        )
        return operations.start_operation(org=purchase.org, kind="purchase.pay", target=purchase, requested_by=actor)
    who = actor.get_username()
    notify(
        admins_of(purchase.org),
        title=f"{who} asks to spend {purchase.monthly_amount} {purchase.currency.upper()}/month "
        f"on {purchase.listing.name}",
        body=f"{purchase}. It is above {purchase.org.name}'s self-approval limit of "
        f"{purchase.org.monthly_spend_limit} {purchase.org.currency.upper()}/month: approve or reject it.",
        url=purchase.get_absolute_url(),
        org=purchase.org,
        level="warning",
    )
    return None


def request_purchase(
    *, actor, org: Organization, listing: Listing, plan_slug: str, team: Team | None = None, via: str = "ui"
) -> tuple[PurchaseRequest, Operation | None]:
    """Buy a plan of a listing (developers). Within the limit it is paid at once, else it waits for an admin."""
    require_role(actor, org, Role.DEVELOPER)
    if listing.state != Listing.State.LISTED:
        raise ValidationError({"listing": f"{listing.name} is not listed on the marketplace."})
    if listing.vendor_id == org.pk:
        raise ValidationError({"listing": f"{listing.name} is {org.name}'s own: provision it without buying."})
    price = listing.prices.select_related("plan").filter(plan__slug=plan_slug).first()
    if price is None:
        raise ValidationError({"plan": f"{listing.name} has no plan {plan_slug!r}."})
    if team is not None and team.org_id != org.pk:
        raise ValidationError({"team": "Choose a team of your organization."})
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=org.pk).first()  # one spend decision at a time per org
        purchase = PurchaseRequest.objects.create(
            org=org,
            team=team,
            requested_by=actor,
            listing=listing,
            price=price,
            monthly_amount=price.monthly_amount,
            currency=listing.currency,
        )
        audit.record(
            actor=actor,
            action="purchase.request",
            org=org,
            target=purchase,
            via=via,
            changes={"listing": listing.slug, "plan": plan_slug, "monthly_amount": str(price.monthly_amount)},
        )
        op = _open_purchase(purchase, actor, via)
    return purchase, op


def request_upgrade(
    *, actor, instance, from_price: ListingPrice | None, price: ListingPrice, changes: dict, via: str = "ui"
) -> tuple[PurchaseRequest, Operation]:
    """A plan upgrade that costs more: a purchase request for the difference; the update runs once paid."""
    require_role(actor, instance.org, Role.DEVELOPER)
    difference = price.monthly_amount - (from_price.monthly_amount if from_price else Decimal("0"))
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=instance.org_id).first()
        open_one = PurchaseRequest.objects.filter(
            instance=instance,
            kind=PurchaseRequest.Kind.UPGRADE,
            state__in=[State.PENDING, State.APPROVED, State.PAYMENT_FAILED],  # a failed one: retry or cancel it
        ).first()
        if open_one is not None:
            raise ValidationError(
                {
                    "plan": f"An upgrade of {instance.name} is already {open_one.get_state_display().lower()}: "
                    f"{settings.SITE_URL.rstrip('/')}{open_one.get_absolute_url()}"
                }
            )
        purchase = PurchaseRequest.objects.create(
            org=instance.org,
            team=instance.team,
            requested_by=actor,
            kind=PurchaseRequest.Kind.UPGRADE,
            listing=price.listing,
            price=price,
            from_price=from_price,
            instance=instance,
            pending_changes=changes or {},
            monthly_amount=difference,
            currency=price.listing.currency,
        )
        audit.record(
            actor=actor,
            action="purchase.request",
            org=instance.org,
            target=purchase,
            via=via,
            changes={
                "instance": instance.name,
                "from": from_price.plan.slug if from_price else None,
                "to": price.plan.slug,
                "monthly_amount": str(difference),
            },
        )
        op = _open_purchase(purchase, actor, via)
        if op is None:  # waits for approval: an operation that says so, for `--wait` and the instance page
            op = operations.start_operation(
                org=instance.org, kind="purchase.await", target=purchase, requested_by=actor, max_attempts=1
            )
    return purchase, op


def _lock_open(purchase: PurchaseRequest, allowed: tuple[str, ...]) -> PurchaseRequest:
    locked = PurchaseRequest.objects.select_for_update().get(pk=purchase.pk)
    if locked.state not in allowed:
        raise ValidationError({"purchase": f"The purchase is {locked.get_state_display().lower()}."})
    return locked


def _decide(
    *, actor, purchase: PurchaseRequest, approve: bool, comment: str, via: str
) -> tuple[PurchaseRequest, Operation | None]:
    """An org admin's decision on a pending purchase: recorded, audited, the requester notified.

    Approving starts the payment; both happen in one transaction with the purchase row locked.
    """
    require_role(actor, purchase.org, Role.ADMIN)
    comment = comment or ""
    verb = "approved" if approve else "rejected"
    with transaction.atomic():
        locked = _lock_open(purchase, (State.PENDING,))
        Approval.objects.create(
            purchase=locked,
            decided_by=actor,
            decision=Approval.Decision.APPROVED if approve else Approval.Decision.REJECTED,
            comment=comment,
            spend_before=monthly_spend(locked.org),
            limit=locked.org.monthly_spend_limit,
        )
        locked.state = State.APPROVED if approve else State.REJECTED
        locked.decided_at = timezone.now()
        locked.save(update_fields=["state", "decided_at"])
        audit.record(
            actor=actor,
            action="purchase.approve" if approve else "purchase.reject",
            org=locked.org,
            target=locked,
            via=via,
            changes={"comment": comment},
        )
        body = f"{actor.get_username()} {verb} it{': ' + comment if comment else '.'}"
        notify(
            [locked.requested_by],
            title=f"{verb.title()}: {locked}",
            body=f"{body} Payment is in progress." if approve else body,
            url=locked.get_absolute_url(),
            org=locked.org,
            level="success" if approve else "danger",
        )
        op = (
            operations.start_operation(org=locked.org, kind="purchase.pay", target=locked, requested_by=actor)
            if approve
            else None
        )
    purchase.refresh_from_db()
    return purchase, op


def approve_purchase(*, actor, purchase: PurchaseRequest, comment: str = "", via: str = "ui") -> Operation:
    """An org admin approves a purchase over the limit; payment starts."""
    return _decide(actor=actor, purchase=purchase, approve=True, comment=comment, via=via)[1]


def reject_purchase(*, actor, purchase: PurchaseRequest, comment: str = "", via: str = "ui") -> PurchaseRequest:
    """An org admin rejects a purchase over the limit; nothing is charged."""
    return _decide(actor=actor, purchase=purchase, approve=False, comment=comment, via=via)[0]


def cancel_purchase(*, actor, purchase: PurchaseRequest, via: str = "ui") -> PurchaseRequest:
    """The requester (or an admin) withdraws a purchase that waits for approval or whose payment failed
    (nothing was charged; Stripe expires an incomplete subscription by itself)."""
    if purchase.requested_by_id != actor.pk:
        require_role(actor, purchase.org, Role.ADMIN)
    else:
        require_role(actor, purchase.org, Role.VIEWER)
    with transaction.atomic():
        locked = _lock_open(purchase, (State.PENDING, State.PAYMENT_FAILED))
        locked.state = State.CANCELLED
        locked.save(update_fields=["state"])
        audit.record(actor=actor, action="purchase.cancel", org=locked.org, target=locked, via=via)
    purchase.refresh_from_db()
    return purchase


def retry_payment(*, actor, purchase: PurchaseRequest, via: str = "ui") -> Operation:
    """After a declined card: an admin sets up another payment method, then retries."""
    require_role(actor, purchase.org, Role.ADMIN)
    setting_up = Operation.objects.filter(
        org_id=purchase.org_id,
        kind=PAYMENT_METHOD_KIND,
        state__in=[Operation.State.PENDING, Operation.State.IN_PROGRESS],
    ).exists()
    if setting_up:
        raise ValidationError(
            {"purchase": "The new payment method is still being set up: retry once the billing page shows it."}
        )
    with transaction.atomic():
        locked = _lock_open(purchase, (State.PAYMENT_FAILED,))
        locked.state = State.APPROVED
        locked.payment_message = ""
        locked.save(update_fields=["state", "payment_message"])
        audit.record(actor=actor, action="purchase.retry", org=locked.org, target=locked, via=via)
        op = operations.start_operation(org=locked.org, kind="purchase.pay", target=locked, requested_by=actor)
    purchase.refresh_from_db()
    return op


# --- payment outcomes (handlers and webhooks): forward-only, idempotent ----------------------


def mark_paid(purchase_id, *, charged: bool, message: str = "", via: str = "webhook") -> bool:
    """Paid: the entitlement exists (once). False when it was already paid (or cannot be)."""
    with transaction.atomic():
        purchase = (
            PurchaseRequest.objects.select_for_update(of=("self",))
            .select_related("org", "listing", "price__plan", "from_price", "instance")
            .filter(pk=purchase_id)
            .first()
        )
        if purchase is None or purchase.state not in (State.APPROVED, State.PAYMENT_FAILED):
            return False
        purchase.state = State.PAID
        purchase.paid_at = timezone.now()
        purchase.charged = charged
        purchase.payment_message = message
        purchase.save(update_fields=["state", "paid_at", "charged", "payment_message"])
        entitlement, _ = Entitlement.objects.get_or_create(
            purchase=purchase,
            defaults={
                "org": purchase.org,
                "listing": purchase.listing,
                "price": purchase.price,
                "instance": purchase.instance,
                "stripe_subscription_id": purchase.stripe_subscription_id,
            },
        )
        if purchase.kind == PurchaseRequest.Kind.UPGRADE and purchase.from_price_id:
            replaced = _base_entitlement(purchase)
            if replaced is not None:
                Entitlement.objects.filter(pk=replaced.pk).update(state=Entitlement.State.ENDED, ends_at=timezone.now())
        audit.record(
            actor=None,
            actor_repr="payment provider" if charged else "no payment provider",
            action="purchase.paid",
            org=purchase.org,
            target=purchase,
            via=via,
            changes={"charged": charged, "monthly_amount": str(purchase.monthly_amount), "message": message},
        )
        what = "Upgrade paid" if purchase.kind == PurchaseRequest.Kind.UPGRADE else "Purchase paid"
        notify(
            [purchase.requested_by],
            title=f"{what}: {purchase.listing.name} {purchase.price.plan.name}",
            body=(
                f"Your update of {purchase.instance.name} starts now."
                if purchase.instance_id and purchase.kind == PurchaseRequest.Kind.UPGRADE
                else f"{purchase.org.name} may now provision the {purchase.price.plan.name} plan."
            )
            + (f" ({message})" if message else ""),
            url=purchase.get_absolute_url(),
            org=purchase.org,
            level="success",
        )
        if purchase.kind == PurchaseRequest.Kind.UPGRADE and purchase.instance_id:
            operations.start_operation(
                org=purchase.org, kind="purchase.apply_upgrade", target=purchase, requested_by=purchase.requested_by
            )
    return True


def mark_payment_failed(purchase_id, *, message: str, via: str = "webhook") -> bool:
    """The payment failed: a clear state and a notification. Never undoes a payment."""
    with transaction.atomic():
        purchase = (
            PurchaseRequest.objects.select_for_update().select_related("org", "listing").filter(pk=purchase_id).first()
        )
        if purchase is None or purchase.state != State.APPROVED:
            return False
        purchase.state = State.PAYMENT_FAILED
        purchase.payment_message = message
        purchase.save(update_fields=["state", "payment_message"])
        audit.record(
            actor=None,
            actor_repr="payment provider",
            action="purchase.payment_failed",
            org=purchase.org,
            target=purchase,
            via=via,
            changes={"message": message},
        )
        notify(
            {purchase.requested_by, *admins_of(purchase.org)},
            title=f"Payment failed: {purchase.listing.name}",
            body=f"{message} An admin can set up another payment method and retry.",
            url=purchase.get_absolute_url(),
            org=purchase.org,
            level="danger",
        )
    return True


def record_payment_pending(purchase: PurchaseRequest, **ids: str) -> None:
    """Remember the provider's subscription / invoice ids (before their webhooks can arrive)."""
    updates = {k: v for k, v in ids.items() if v}
    if updates:
        PurchaseRequest.objects.filter(pk=purchase.pk).update(**updates)
        for key, value in updates.items():
            setattr(purchase, key, value)


def _base_entitlement(purchase: PurchaseRequest) -> Entitlement | None:
    """The entitlement an upgrade replaces: the instance's own, else the org's newest of the old plan."""
    qs = Entitlement.objects.filter(
        org_id=purchase.org_id, price_id=purchase.from_price_id, state=Entitlement.State.ACTIVE
    ).exclude(purchase=purchase)
    return (
        qs.filter(Q(instance_id=purchase.instance_id)).first() or qs.filter(instance__isnull=True).first() or qs.first()
    )


# --- webhooks -------------------------------------------------------------------------------


def _text(value) -> str:
    """A string field of a webhook object, or "" when it is missing or of another type."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and len(value) <= 255 and "\x00" not in value else ""


def _purchase_id(value) -> str:
    import uuid

    try:
        return str(uuid.UUID(_text(value)))
    except ValueError:
        return ""


INVOICE_PAID = ("invoice.payment_succeeded", "invoice.paid")
INVOICE_FAILED = "invoice.payment_failed"
STRIPE_EVENT_KIND = "billing.stripe_event"


def _purchase_for_invoice(invoice: dict) -> PurchaseRequest | None:
    """The purchase an invoice pays, from what Servicebay stored (never asks the provider)."""
    invoice_id = _text(invoice.get("id"))
    subscription_id = _text(invoice.get("subscription"))
    metadata = invoice.get("metadata") if isinstance(invoice.get("metadata"), dict) else {}
    found = PurchaseRequest.objects.filter(stripe_invoice_id=invoice_id).first() if invoice_id else None
    if found is None and _purchase_id(metadata.get("servicebay_purchase")):
        found = PurchaseRequest.objects.filter(pk=_purchase_id(metadata.get("servicebay_purchase"))).first()
    if found is None and subscription_id:
        found = (
            PurchaseRequest.objects.filter(stripe_subscription_id=subscription_id, kind=PurchaseRequest.Kind.NEW)
            .order_by("created_at")
            .first()
        )
    return found


def _failure_message(invoice: dict) -> str:
    error = invoice.get("last_payment_error")
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) and message else "The card was declined."


def _settle(kind: str, purchase: PurchaseRequest, message: str) -> str:
    if kind in INVOICE_PAID:
        return "paid" if mark_paid(purchase.pk, charged=True) else "already settled"
    return "payment failed" if mark_payment_failed(purchase.pk, message=message) else "already settled"


def _defer_invoice_event(event_id: str, kind: str, invoice: dict) -> str:
    """An invoice of a subscription not stored yet (the webhook beat our own write): the
    ``billing.stripe_event`` operation asks the provider whose subscription it is, out of the request.

    Only invoices of a customer Servicebay created (stored as soon as the provider returned it) are
    followed up; anything else is not ours.
    """
    subscription_id = _text(invoice.get("subscription"))
    customer_id = _text(invoice.get("customer"))
    account = (
        BillingAccount.objects.select_related("org").filter(stripe_customer_id=customer_id).first()
        if customer_id and subscription_id
        else None
    )
    if account is None:
        return "unknown invoice"
    op = operations.start_operation(
        org=account.org,
        kind=STRIPE_EVENT_KIND,
        target=account,
        params={
            "event": event_id,
            "type": kind,
            "invoice": _text(invoice.get("id")),
            "subscription": subscription_id,
            "message": _failure_message(invoice) if kind == INVOICE_FAILED else "",
        },
    )
    return f"deferred to operation {op.pk}"


def settle_deferred_event(
    *, event_id: str, kind: str, invoice_id: str, subscription_id: str, message: str, purchase_id: str, org_id
) -> str:
    """The end of a deferred invoice event (``billing.stripe_event``): ``purchase_id`` is what the
    provider's subscription metadata names ("" when it names none). Idempotent."""
    with transaction.atomic():
        purchase = _purchase_for_invoice({"id": invoice_id, "subscription": subscription_id})
        if purchase is None and _purchase_id(purchase_id):
            purchase = PurchaseRequest.objects.filter(pk=_purchase_id(purchase_id), org_id=org_id).first()
            if purchase is not None and not purchase.stripe_subscription_id:
                record_payment_pending(purchase, stripe_subscription_id=subscription_id)
        outcome = "unknown invoice" if purchase is None else _settle(kind, purchase, message)
        StripeEvent.objects.filter(pk=event_id).update(outcome=outcome[:200])
    return outcome


def deferred_event_purchase(params: dict) -> PurchaseRequest | None:
    """The purchase of a deferred event, if our own write has landed meanwhile."""
    return _purchase_for_invoice({"id": params.get("invoice", ""), "subscription": params.get("subscription", "")})


def handle_event(event: dict) -> str:
    """Process a verified webhook event once (by id), whatever the order of delivery.

    Never calls the provider: an invoice Servicebay cannot place from its own rows is recorded and
    handed to an operation (``_defer_invoice_event``), so the webhook answers at once.
    """
    event_id = str(event["id"])
    kind = str(event["type"])
    obj = (event.get("data") or {}).get("object") or {}  # shapes checked by billing.parse_webhook
    with transaction.atomic():
        _, created = StripeEvent.objects.get_or_create(
            id=event_id, defaults={"type": kind, "created": int(event.get("created") or 0)}
        )
        if not created:
            return "duplicate"
        outcome = "ignored"
        if kind in INVOICE_PAID or kind == INVOICE_FAILED:
            purchase = _purchase_for_invoice(obj)
            if purchase is not None:
                outcome = _settle(kind, purchase, _failure_message(obj))
            else:
                outcome = _defer_invoice_event(event_id, kind, obj)
        elif kind == "customer.subscription.deleted" and _text(obj.get("id")):
            ended = (
                Entitlement.objects.filter(stripe_subscription_id=_text(obj.get("id")))
                .exclude(state=Entitlement.State.ENDED)
                .update(state=Entitlement.State.ENDED, ends_at=timezone.now())
            )
            outcome = f"{ended} entitlement(s) ended"
        StripeEvent.objects.filter(pk=event_id).update(outcome=outcome[:200])
    return outcome


# --- ending subscriptions -------------------------------------------------------------------


def end_entitlement(entitlement: Entitlement, *, actor=None, via: str = "ui") -> Operation | None:
    """Stop paying at period end (Stripe), or at once without a payment provider."""
    with transaction.atomic():
        locked = Entitlement.objects.select_for_update().get(pk=entitlement.pk)
        if locked.state != Entitlement.State.ACTIVE:
            return None
        charged = bool(locked.stripe_subscription_id) and billing.is_configured()
        locked.state = Entitlement.State.ENDING if charged else Entitlement.State.ENDED
        locked.ends_at = None if charged else timezone.now()
        locked.save(update_fields=["state", "ends_at"])
        audit.record(actor=actor, action="entitlement.end", org=locked.org, target=locked, via=via)
        if charged:
            return operations.start_operation(org=locked.org, kind="entitlement.end", target=locked, requested_by=actor)
    return None


def reactivate_entitlement(entitlement_id, *, reason: str) -> bool:
    """Ending the subscription failed at the provider: it is still billed, so the entitlement is active."""
    with transaction.atomic():
        locked = Entitlement.objects.select_for_update().filter(pk=entitlement_id).first()
        if locked is None or locked.state != Entitlement.State.ENDING or locked.ends_at is not None:
            return False
        locked.state = Entitlement.State.ACTIVE
        locked.save(update_fields=["state"])
        audit.record(
            actor=None,
            actor_repr="payment provider",
            action="entitlement.end_failed",
            org=locked.org,
            target=locked,
            via="operation",
            changes={"reason": reason},
        )
    return True


def can_see_spend(user, org: Organization) -> bool:
    return has_role(user, org, Role.VIEWER)
