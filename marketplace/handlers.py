"""Operation handlers of the marketplace app: every slow call to the payment provider.

Idempotent: ids the provider returns are stored as soon as they exist and checked before a
second call; creations carry idempotency keys; outcomes go through the forward-only
``mark_paid`` / ``mark_payment_failed``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from marketplace import billing, services
from marketplace.models import BillingAccount, Entitlement, Listing, PurchaseRequest
from portal.operations import OperationContext, OperationFailed, RetryLater, handler

PAYMENT_METHOD_MISSING = (
    "{org} has no payment method yet: an org admin sets one up on the Billing page "
    "(/marketplace/billing/), then retries the payment."
)


def _provider_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except billing.PaymentTransient as exc:
        raise RetryLater(str(exc)) from exc


def _ensure_customer(stripe_billing: billing.StripeBilling, account: BillingAccount) -> BillingAccount:
    """The org's customer at the provider, created once: its id is stored the moment it is returned,
    and the creation carries a key derived from the org, so a re-run after a lost worker (between
    the provider's answer and our write) gets the same customer back instead of a second one."""
    if account.stripe_customer_id:
        return account
    org = account.org
    customer_id = _provider_call(
        stripe_billing.create_customer, org_slug=org.slug, org_name=org.name, idempotency_key=f"org-{org.pk}-customer"
    )
    return services.record_customer(account, customer_id)


@handler("billing.payment_method", label="Set payment method")
def set_payment_method(ctx: OperationContext) -> dict:
    """Attach the card an admin gave to the org's customer (created if needed) and make it the default."""
    account = BillingAccount.objects.select_related("org").get(pk=ctx.operation.target_id)
    payment_method_id = str(ctx.params.get("payment_method", ""))
    if account.requested_payment_method_id != payment_method_id:
        ctx.log("Another payment method was asked for meanwhile: nothing to do")
        return {"superseded": True}
    if not billing.is_configured():
        raise OperationFailed(f"No payment provider is configured: purchases are {billing.NOT_CHARGED}.")
    stripe_billing = billing.StripeBilling()
    try:
        created = not account.stripe_customer_id
        account = _ensure_customer(stripe_billing, account)
        ctx.log(f"Customer {account.stripe_customer_id} {'created' if created else 'exists'}")
        attached = _provider_call(
            stripe_billing.set_default_payment_method,
            customer_id=account.stripe_customer_id,
            payment_method_id=payment_method_id,
        )
    except billing.PaymentError as exc:  # a declined or unknown card: the provider's words
        raise OperationFailed(str(exc)) from exc
    recorded = services.record_payment_method(
        account,
        requested=payment_method_id,
        attached=attached.id,
        label=attached.label,
        actor=ctx.operation.requested_by,
    )
    if not recorded:
        ctx.log(f"{attached.label} was attached, but another payment method was asked for meanwhile")
        return {"superseded": True}
    ctx.log(f"{attached.label} is the default payment method of {account.org.name}")
    return {"payment_method": attached.label}


@handler("billing.stripe_event", label="Payment confirmation")
def settle_stripe_event(ctx: OperationContext) -> dict:
    """A webhook about a subscription Servicebay had not stored yet: ask the provider whose it is."""
    params = ctx.params
    purchase_id = ""
    if services.deferred_event_purchase(params) is None:
        if not billing.is_configured():
            raise OperationFailed("No payment provider is configured.")
        try:
            purchase_id = _provider_call(
                billing.StripeBilling().subscription_purchase_id, str(params.get("subscription", ""))
            )
        except billing.PaymentError as exc:
            raise OperationFailed(str(exc)) from exc
    outcome = services.settle_deferred_event(
        event_id=str(params.get("event", "")),
        kind=str(params.get("type", "")),
        invoice_id=str(params.get("invoice", "")),
        subscription_id=str(params.get("subscription", "")),
        message=str(params.get("message", "")) or "The card was declined.",
        purchase_id=purchase_id,
        org_id=ctx.operation.org_id,
    )
    ctx.log(f"Stripe event {params.get('event')} ({params.get('type')}): {outcome}")
    return {"outcome": outcome}


@handler("listing.publish", label="Publish listing", notify_on_success=True)
def publish_listing(ctx: OperationContext) -> dict:
    listing: Listing = ctx.target
    prices = list(listing.prices.select_related("plan"))
    if not billing.is_configured():
        ctx.log(f"No payment provider: prices are shown, purchases are {billing.NOT_CHARGED}")
        services.record_listing_published(listing, product_id="", price_ids={})
        return {"listed": True, "charged": False}
    stripe_billing = billing.StripeBilling()
    try:
        product_id = listing.stripe_product_id or _provider_call(
            stripe_billing.create_product,
            listing_id=listing.pk,
            name=listing.name,
            summary=listing.summary,
            idempotency_key=f"listing-{listing.pk}-product",
        )
        Listing.objects.filter(pk=listing.pk, stripe_product_id="").update(stripe_product_id=product_id)
        ctx.log(f"Product {product_id} created")
        price_ids = {}
        for price in prices:
            if price.stripe_price_id or price.is_free:
                continue
            price_ids[price.pk] = _provider_call(
                stripe_billing.create_recurring_price,
                product_id=product_id,
                amount=price.monthly_amount,
                currency=listing.currency,
                plan_slug=price.plan.slug,
                idempotency_key=f"listing-price-{price.pk}",
            )
            ctx.log(f"Monthly price of {price.plan.slug}: {price.monthly_amount} {listing.currency.upper()}")
    except billing.PaymentError as exc:
        raise OperationFailed(str(exc)) from exc
    services.record_listing_published(listing, product_id=product_id, price_ids=price_ids)
    return {"listed": True, "product": product_id}


@handler("purchase.await", label="Purchase request")
def await_purchase(ctx: OperationContext) -> dict:
    purchase: PurchaseRequest = ctx.target
    ctx.log(
        f"{purchase.monthly_amount} {purchase.currency.upper()}/month is above the self-approval limit of "
        f"{purchase.org.name}: it waits for an admin's approval (sbay approvals approve {purchase.pk})"
    )
    ctx.log("Once approved and paid, the change runs by itself")
    return {"purchase": str(purchase.pk), "state": purchase.state}


def _payment_finished(operation) -> None:
    """A payment operation that failed for any reason (retries used up, a lost worker, a bug) leaves the
    purchase "payment failed" with the reason — never "payment in progress" for ever."""
    if operation.state == operation.State.FAILED:
        services.mark_payment_failed(operation.target_id, message=operation.error, via="operation")


@handler("purchase.pay", label="Payment", on_finish=_payment_finished)
def pay_purchase(ctx: OperationContext) -> dict:
    purchase = PurchaseRequest.objects.select_related(
        "org", "listing", "price__plan", "from_price__plan", "instance"
    ).get(pk=ctx.operation.target_id)
    if purchase.state != PurchaseRequest.State.APPROVED:
        ctx.log(f"Nothing to do: the purchase is {purchase.get_state_display().lower()}")
        return {"state": purchase.state}
    if not billing.is_configured() or purchase.monthly_amount <= 0:
        message = billing.NOT_CHARGED if purchase.monthly_amount > 0 else "free plan: nothing to charge"
        services.mark_paid(purchase.pk, charged=False, message=message, via="system")
        ctx.log(f"Paid ({message})")
        return {"state": "paid", "charged": False}
    try:
        return _pay_with_stripe(ctx, purchase)
    except billing.PaymentError as exc:
        services.mark_payment_failed(purchase.pk, message=str(exc), via="system")
        raise OperationFailed(str(exc)) from exc


def _pay_with_stripe(ctx: OperationContext, purchase: PurchaseRequest) -> dict:
    stripe_billing = billing.StripeBilling()
    account = _ensure_customer(stripe_billing, services.billing_account(purchase.org))
    if not account.payment_method_id:
        message = PAYMENT_METHOD_MISSING.format(org=purchase.org.name)
        services.mark_payment_failed(purchase.pk, message=message, via="system")
        raise OperationFailed(message)
    price_id = purchase.price.stripe_price_id
    if not price_id:
        message = f"{purchase.listing.name} has no price at the payment provider: the vendor republishes it."
        services.mark_payment_failed(purchase.pk, message=message, via="system")
        raise OperationFailed(message)
    base = services._base_entitlement(purchase) if purchase.kind == PurchaseRequest.Kind.UPGRADE else None
    if base is not None and base.stripe_subscription_id:
        return _pay_upgrade(ctx, stripe_billing, purchase, account, base.stripe_subscription_id, price_id)
    if not purchase.stripe_subscription_id:
        result = _provider_call(
            stripe_billing.create_subscription,
            customer_id=account.stripe_customer_id,
            price_id=price_id,
            purchase_id=str(purchase.pk),
        )
        services.record_payment_pending(
            purchase, stripe_subscription_id=result.id, stripe_invoice_id=result.latest_invoice
        )
        ctx.log(f"Subscription {result.id} created ({result.status})")
    else:  # a retry: pay the open first invoice with the (new) default payment method
        result = _provider_call(stripe_billing.subscription, purchase.stripe_subscription_id)
        if result.status == "incomplete" and result.latest_invoice:
            if _provider_call(stripe_billing.invoice_status, result.latest_invoice) == "open":
                _provider_call(stripe_billing.pay_invoice, result.latest_invoice)
            result = _provider_call(stripe_billing.subscription, purchase.stripe_subscription_id)
        ctx.log(f"Subscription {result.id}: {result.status}")
    if result.status == "incomplete":  # the first payment was declined at once
        message = _provider_call(stripe_billing.payment_error, result.latest_invoice)
        services.mark_payment_failed(purchase.pk, message=message, via="system")
        raise OperationFailed(f"Payment failed: {message}")
    ctx.log("Waiting for the payment provider's confirmation (webhook)")
    return {"subscription": result.id, "status": result.status}


def _pay_upgrade(
    ctx: OperationContext,
    stripe_billing: billing.StripeBilling,
    purchase: PurchaseRequest,
    account: BillingAccount,
    subscription_id: str,
    price_id: str,
) -> dict:
    """Charge the difference first; only once it is paid move the subscription to the new plan.

    A declined card therefore leaves Stripe and Servicebay agreeing: the subscription and the
    instance stay on the old plan, the purchase is "payment failed" (requester and admins are
    notified) and an admin's retry charges again with a new idempotency key (the operation's).
    """
    services.record_payment_pending(purchase, stripe_subscription_id=subscription_id)
    paid = bool(purchase.stripe_payment_intent_id) and (
        _provider_call(stripe_billing.charge_status, purchase.stripe_payment_intent_id) == "succeeded"
    )
    if not paid:
        try:
            charge = _provider_call(
                stripe_billing.charge,
                customer_id=account.stripe_customer_id,
                payment_method_id=account.payment_method_id,
                amount=purchase.monthly_amount,
                currency=purchase.currency,
                purchase_id=str(purchase.pk),
                idempotency_key=f"purchase-{purchase.pk}-charge-{ctx.operation.pk}",
            )
        except billing.PaymentError as exc:
            message = f"{exc} {_stays_on(purchase)}"
            services.mark_payment_failed(purchase.pk, message=message, via="system")
            raise OperationFailed(f"Payment failed: {message}") from exc
        services.record_payment_pending(purchase, stripe_payment_intent_id=charge.id)
        amount = f"{purchase.monthly_amount} {purchase.currency.upper()}"
        ctx.log(f"Difference of {amount} charged: {charge.id} ({charge.status})")
        if charge.status != "succeeded":  # e.g. the bank asks for authentication the org must give
            message = f"The payment was not completed ({charge.status}). {_stays_on(purchase)}"
            services.mark_payment_failed(purchase.pk, message=message, via="system")
            raise OperationFailed(f"Payment failed: {message}")
    try:
        changed = _provider_call(
            stripe_billing.change_subscription_plan,
            subscription_id=subscription_id,
            price_id=price_id,
            purchase_id=str(purchase.pk),
        )
    except billing.PaymentError as exc:
        message = (
            f"The difference was charged, but the subscription could not be moved to "
            f"{purchase.price.plan.name}: {exc} Retry the payment (it is not charged twice)."
        )
        services.mark_payment_failed(purchase.pk, message=message, via="system")
        raise OperationFailed(message) from exc
    ctx.log(
        f"Subscription {subscription_id} "
        + (f"moved to {purchase.price.plan.slug}" if changed else f"already on {purchase.price.plan.slug}")
    )
    services.mark_paid(purchase.pk, charged=True, via="system")
    return {"subscription": subscription_id, "payment_intent": purchase.stripe_payment_intent_id, "state": "paid"}


def _stays_on(purchase: PurchaseRequest) -> str:
    plan = purchase.from_price.plan.name if purchase.from_price_id else "its current plan"
    what = purchase.instance.name if purchase.instance_id else "The subscription"
    return f"{what} stays on {plan}; nothing was changed."


@handler("purchase.apply_upgrade", label="Update after upgrade")
def apply_upgrade(ctx: OperationContext) -> dict:
    from instances.services import update_instance

    purchase = PurchaseRequest.objects.select_related("instance", "price__plan", "requested_by").get(
        pk=ctx.operation.target_id
    )
    instance = purchase.instance
    if instance is None or instance.state == "deprovisioned":
        ctx.log("The instance is gone: nothing to update")
        return {}
    if instance.plan_id == purchase.price.plan_id:
        ctx.log(f"{instance.name} is already on {purchase.price.plan.slug}")
        return {"instance": str(instance.pk)}
    try:
        op = update_instance(
            actor=purchase.requested_by,
            instance=instance,
            plan=purchase.price.plan,
            changes=purchase.pending_changes or {},
            via="system",
        )
    except ValidationError as exc:
        text = "; ".join(exc.messages)
        if "running" in text or "it can be updated once" in text:
            raise RetryLater(text) from exc
        raise OperationFailed(text) from exc
    ctx.log(f"Update of {instance.name} to {purchase.price.plan.slug} started: operation {op.pk}")
    return {"instance": str(instance.pk), "operation": str(op.pk)}


def _end_finished(operation) -> None:
    """The provider was not told to stop: the entitlement is active again (the org still pays for it, it
    may be used by a new instance), and the requester is told by the failed operation."""
    if operation.state == operation.State.FAILED:
        services.reactivate_entitlement(operation.target_id, reason=operation.error)


@handler("entitlement.end", label="End subscription", on_finish=_end_finished)
def end_subscription(ctx: OperationContext) -> dict:
    entitlement = Entitlement.objects.get(pk=ctx.operation.target_id)
    if not entitlement.stripe_subscription_id or not billing.is_configured():
        return {}
    try:
        period_end = _provider_call(billing.StripeBilling().cancel_at_period_end, entitlement.stripe_subscription_id)
    except billing.PaymentError as exc:
        raise OperationFailed(str(exc)) from exc
    if period_end:
        from datetime import UTC, datetime

        Entitlement.objects.filter(pk=entitlement.pk).update(ends_at=datetime.fromtimestamp(int(period_end), tz=UTC))
    ctx.log(f"Subscription {entitlement.stripe_subscription_id} ends at the end of its period")
    return {"subscription": entitlement.stripe_subscription_id}
