"""What other apps ask the marketplace (instances.services calls these, nothing else).

One live instance of a paid plan per active entitlement of the org. A vendor's own org, free
plans and plans that are not listed need none.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

from marketplace.models import Entitlement, ListingPrice


def price_for(service_type, plan) -> ListingPrice | None:
    if plan is None:
        return None
    return ListingPrice.objects.select_related("listing").filter(plan=plan, listing__service_type=service_type).first()


def _needs_entitlement(org, price: ListingPrice | None) -> bool:
    return price is not None and not price.is_free and price.listing.vendor_id != org.pk


def _live_instances(org, plan, exclude=None) -> int:
    from instances.models import Instance

    qs = Instance.objects.filter(org=org, plan=plan).exclude(state=Instance.State.DEPROVISIONED)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.count()


def spare_entitlement(org, price: ListingPrice, lock: bool = False) -> bool:
    """Has the org an active entitlement of ``price`` not used by a live instance?

    ``lock`` (inside a transaction): lock the org's active entitlements of that price first, so that
    concurrent deploys are serialised and the second one sees the first one's instance.
    """
    active = Entitlement.objects.filter(org=org, price=price, state=Entitlement.State.ACTIVE)
    count = len(active.select_for_update().values_list("pk", flat=True)) if lock else active.count()
    return count > _live_instances(org, price.plan)


def purchase_url(price: ListingPrice) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{price.listing.get_absolute_url()}?plan={price.plan.slug}"


def require_entitlement(org, service_type, plan, lock: bool = False) -> None:
    """Refuse provisioning a paid plan the org has not bought (a field error linking to the purchase page)."""
    price = price_for(service_type, plan)
    if not _needs_entitlement(org, price) or spare_entitlement(org, price, lock=lock):
        return
    if price.listing.state != price.listing.State.LISTED:
        raise ValidationError(
            {
                "plan": f"{price.listing.name} is no longer sold on the marketplace and {org.name} has no unused "
                f"purchase of its {plan.name} plan; existing purchases keep working."
            }
        )
    raise ValidationError(
        {
            "plan": f"The {plan.name} plan of {price.listing.name} costs {price.monthly_amount} "
            f"{price.listing.currency.upper()}/month and {org.name} has no unused purchase of it: "
            f"buy it at {purchase_url(price)} (sbay buy {price.listing.slug} {plan.slug}), then provision again."
        }
    )


def hold_upgrade(*, actor, instance, plan, changes: dict, via: str = "ui"):
    """A change to a more expensive paid plan becomes a purchase request (its Operation is returned).

    None when the change needs no purchase (same or cheaper plan, free, own type, or an unused
    entitlement of the new plan already exists) — the caller then updates as usual.
    """
    from instances.services import split_secrets
    from marketplace.services import request_upgrade

    if plan is None or plan.pk == instance.plan_id:
        return None
    price = price_for(instance.type, plan)
    if not _needs_entitlement(instance.org, price) or spare_entitlement(instance.org, price):
        return None
    from_price = price_for(instance.type, instance.plan)
    if from_price is not None and from_price.monthly_amount >= price.monthly_amount:
        return None
    _, secrets = split_secrets(instance.version.parameter_schema or {}, changes or {})
    if secrets:
        raise ValidationError(
            {"parameters": "Change secret parameters in a separate update; this plan upgrade needs a purchase first."}
        )
    _, op = request_upgrade(
        actor=actor, instance=instance, from_price=from_price, price=price, changes=changes, via=via
    )
    return op


def release_for(*, actor, instance, via: str = "ui") -> None:
    """Deprovisioning: end one subscription of the plan (at period end) if no other instance needs it."""
    from marketplace.services import end_entitlement

    price = price_for(instance.type, instance.plan)
    if not _needs_entitlement(instance.org, price):
        return
    active = Entitlement.objects.filter(org=instance.org, price=price, state=Entitlement.State.ACTIVE)
    if active.count() <= _live_instances(instance.org, instance.plan, exclude=instance):
        return
    chosen = active.filter(instance=instance).first() or active.filter(instance__isnull=True).first() or active.first()
    end_entitlement(chosen, actor=actor, via=via)
