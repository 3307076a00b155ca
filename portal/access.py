"""The one set of access helpers. Every queryset that returns org data goes through here.

Rules: a user sees objects of the orgs they are a member of. An object of another org is
indistinguishable from a missing one (404). A member whose role is too low for an action
gets 403 (PermissionDenied).
"""

from __future__ import annotations

from typing import TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404

from portal.models import Membership, Organization, Role

M = TypeVar("M", bound=Model)


def orgs_for_user(user) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user)


def memberships_for_user(user) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user).select_related("org")


def people_of(org: Organization) -> QuerySet[Membership]:
    """The org's members who are people: OSB platforms act through principal users of their own
    (osbapi.PlatformCredential.principal), listed on the Platforms page, not among the members."""
    return Membership.objects.filter(org=org, user__platform_credential__isnull=True)


def scope_for_user(queryset: QuerySet[M], user, org_path: str = "org") -> QuerySet[M]:
    """Restrict ``queryset`` to rows whose org (reached through ``org_path``) the user is in."""
    if not user.is_authenticated:
        return queryset.none()
    member_orgs = Membership.objects.filter(user=user).values("org_id")
    return queryset.filter(**{f"{org_path}__in": member_orgs})


def get_object_for_user(queryset: QuerySet[M], user, org_path: str = "org", **lookup) -> M:
    """One object the user may see, else 404 (also for malformed ids such as a bad UUID)."""
    try:
        return scope_for_user(queryset, user, org_path).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from exc


def get_org_for_user(user, slug: str) -> Organization:
    return get_object_for_user(Organization.objects.all(), user, org_path="pk", slug=slug)


def get_membership(user, org: Organization) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, org=org).first()


def require_role(user, org: Organization, role: str) -> Membership:
    """The user's membership in ``org`` if it has at least ``role``.

    Outsiders get 404 (the org does not exist for them); members below the role get 403.
    """
    membership = get_membership(user, org)
    if membership is None:
        raise Http404("Not found.")
    if not membership.has_role(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in {org.name}.")
    return membership


def has_role(user, org: Organization, role: str) -> bool:
    membership = get_membership(user, org)
    return membership is not None and membership.has_role(role)
