"""The organization a request acts in."""

from __future__ import annotations

from portal.models import Membership, Profile

ORG_HEADER = "HTTP_X_SERVICEBAY_ORG"
_CACHE = "_servicebay_membership"


def current_membership(request) -> Membership | None:
    """The membership of the org this request acts in (cached on the request).

    API clients (the CLI) may name the org in an ``X-Servicebay-Org`` header; otherwise the
    user's chosen current org is used, falling back to their first membership.
    """
    if hasattr(request, _CACHE):
        return getattr(request, _CACHE)
    membership = None
    user = request.user
    if user.is_authenticated:
        memberships = Membership.objects.filter(user=user).select_related("org")
        wanted = request.META.get(ORG_HEADER)
        if wanted:
            membership = memberships.filter(org__slug=wanted).first()
        else:
            current_org_id = Profile.objects.filter(user=user).values_list("current_org_id", flat=True).first()
            if current_org_id:
                membership = memberships.filter(org_id=current_org_id).first()
            if membership is None:
                membership = memberships.order_by("org__name").first()
    setattr(request, _CACHE, membership)
    return membership


def forget_membership(request) -> None:
    if hasattr(request, _CACHE):
        delattr(request, _CACHE)
