"""Reads of the marketplace app, always through portal.access so outsiders see nothing."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.http import Http404

from marketplace.models import Approval, Entitlement, Listing, ListingPrice, PurchaseRequest
from marketplace.services import monthly_spend
from portal.access import get_object_for_user, require_role, scope_for_user
from portal.models import AuditEvent, Organization, Role


def listings_for_user(user, *, q: str = "", category: str = "") -> QuerySet[Listing]:
    """Listed offers (every signed-in user sees them) plus the user's own orgs' drafts and unlisted ones."""
    own = scope_for_user(Listing.objects.all(), user, "vendor").values("pk")
    qs = Listing.objects.filter(Q(state=Listing.State.LISTED) | Q(pk__in=own))
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(summary__icontains=q) | Q(description__icontains=q))
    if category:
        qs = qs.filter(categories__icontains=f'"{category.lower()}"')
    prices = ListingPrice.objects.select_related("plan").order_by("monthly_amount", "plan__order")
    return qs.select_related("vendor", "service_type").prefetch_related(Prefetch("prices", queryset=prices))


def categories(listings) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for listing in listings:
        for name in listing.categories or []:
            counts[name] = counts.get(name, 0) + 1
    return sorted(counts.items())


def get_listing_for_user(user, slug: str) -> Listing:
    listing = listings_for_user(user).filter(slug=slug).first()
    if listing is None:
        raise Http404("No listing matches the given query.")
    return listing


def purchases_for_user(user) -> QuerySet[PurchaseRequest]:
    return scope_for_user(PurchaseRequest.objects.all(), user).select_related(
        "org", "team", "requested_by", "listing", "price__plan", "from_price__plan", "instance"
    )


def get_purchase_for_user(user, pk) -> PurchaseRequest:
    return get_object_for_user(purchases_for_user(user), user, pk=pk)


def pending_approvals(user, org: Organization) -> QuerySet[PurchaseRequest]:
    return purchases_for_user(user).filter(org=org, state=PurchaseRequest.State.PENDING).order_by("created_at")


def decision_of(purchase: PurchaseRequest) -> Approval | None:
    return purchase.approvals.select_related("decided_by").first()


def spend_summary(user, org: Organization) -> dict:
    """Monthly spend of an org by team and by listing (members only: others get 404)."""
    require_role(user, org, Role.VIEWER)
    active = Entitlement.objects.filter(org=org, state__in=[Entitlement.State.ACTIVE, Entitlement.State.ENDING])
    by_team = list(
        active.values("purchase__team__name")
        .annotate(total=Sum("price__monthly_amount"), count=Count("pk"))
        .order_by("purchase__team__name")
    )
    by_listing = list(
        active.values("listing__name", "listing__slug", "listing__currency")
        .annotate(total=Sum("price__monthly_amount"), count=Count("pk"))
        .order_by("listing__name")
    )
    total = monthly_spend(org)
    limit = org.monthly_spend_limit
    return {
        "org": org,
        "total": total,
        "limit": limit,
        "currency": org.currency,
        "headroom": max(limit - total, Decimal("0")),
        "by_team": [
            {"team": row["purchase__team__name"] or "(no team)", "total": row["total"], "count": row["count"]}
            for row in by_team
        ],
        "by_listing": [
            {
                "listing": row["listing__name"],
                "slug": row["listing__slug"],
                "total": row["total"],
                "count": row["count"],
            }
            for row in by_listing
        ],
    }


def spend_history(user, org: Organization, limit: int = 100) -> QuerySet[AuditEvent]:
    require_role(user, org, Role.VIEWER)
    return (
        AuditEvent.objects.filter(org=org)
        .filter(
            Q(action__startswith="purchase.") | Q(action__startswith="billing.") | Q(action__startswith="entitlement.")
        )
        .select_related("actor")[:limit]
    )
