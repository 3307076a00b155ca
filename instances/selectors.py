"""Reads of the instances app, always through portal.access so outsiders see nothing."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404

from instances.models import Binding, Instance, InstanceShare
from portal.access import get_object_for_user, scope_for_user
from portal.models import Membership


def instances_for_user(user, include_deprovisioned: bool = False) -> QuerySet[Instance]:
    qs = scope_for_user(Instance.objects.all(), user).select_related(
        "org", "type", "version", "plan", "cluster", "team", "platform"
    )
    return qs if include_deprovisioned else qs.exclude(state=Instance.State.DEPROVISIONED)


def get_instance_for_user(user, pk) -> Instance:
    """An instance of one of the user's orgs (the full view: parameters, operations…)."""
    return get_object_for_user(instances_for_user(user, include_deprovisioned=True), user, pk=pk)


def _share_filter(user) -> Q:
    memberships = Membership.objects.filter(user=user)
    return Q(org__in=memberships.values("org_id")) | Q(team__memberships__in=memberships)


def shared_instances_for_user(user) -> QuerySet[Instance]:
    """Instances other orgs or teams shared with the user (they may bind, nothing more)."""
    if not user.is_authenticated:
        return Instance.objects.none()
    shares = InstanceShare.objects.filter(_share_filter(user)).values("instance_id")
    return (
        Instance.objects.filter(pk__in=shares)
        .exclude(state=Instance.State.DEPROVISIONED)
        .select_related("org", "type", "version", "plan")
    )


def binder_membership(user, instance: Instance) -> Membership:
    """The membership a user binds to ``instance`` through: its own org, or a share. 404 otherwise."""
    own = Membership.objects.filter(user=user, org_id=instance.org_id).select_related("org").first()
    if own is not None:
        return own
    shares = InstanceShare.objects.filter(instance=instance).filter(_share_filter(user))
    share = shares.select_related("org", "team").first()
    if share is None:
        raise Http404("No instance matches the given query.")
    org_id = share.org_id or share.team.org_id
    return Membership.objects.select_related("org").get(user=user, org_id=org_id)


def _get_or_404(queryset: QuerySet, **lookup):
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from exc


def get_bindable_instance(user, pk) -> tuple[Instance, Membership]:
    """An instance the user may bind to, and the membership they bind through (404 otherwise)."""
    instance = _get_or_404(
        Instance.objects.exclude(state=Instance.State.DEPROVISIONED).select_related(
            "org", "type", "version", "cluster"
        ),
        pk=pk,
    )
    return instance, binder_membership(user, instance)


def bindings_for_user(user) -> QuerySet[Binding]:
    """Bindings the user's orgs made, plus bindings to their orgs' instances."""
    member_orgs = Membership.objects.filter(user=user).values("org_id")
    return Binding.objects.filter(Q(org__in=member_orgs) | Q(instance__org__in=member_orgs)).select_related(
        "instance", "instance__org", "org", "app_cluster", "created_by"
    )


def get_binding_for_user(user, pk) -> Binding:
    return _get_or_404(bindings_for_user(user), pk=pk)
