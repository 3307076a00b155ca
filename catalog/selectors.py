"""Reads of the catalog app, always through portal.access so outsiders see nothing.

Who sees a type (``visibility``):

* ``team``   — members of the owning team, and the org's admins;
* ``org``    — every member of the owning org;
* ``orgs``   — every member of the owning org and of the orgs it is shared with;
* ``public`` — every signed-in user (the marketplace lists these).

Type *owners* are the members of the owning team and the org's admins; they also see draft
versions and types that have no published version yet. Everybody else sees published and
deprecated versions only, and only types that have at least one. A type that a user may not
see is a 404 for them, everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from catalog.models import Broker, Plan, RegisteredService, ServiceType, TypeVersion, Visibility
from portal.access import memberships_for_user
from portal.models import Membership, Role, Team

LIVE_STATES = (TypeVersion.State.PUBLISHED, TypeVersion.State.DEPRECATED)


def _member_orgs(user):
    return memberships_for_user(user).values("org_id")


def _admin_orgs(user):
    return memberships_for_user(user).filter(role=Role.ADMIN).values("org_id")


def _my_teams(user):
    return Team.objects.filter(memberships__user=user).values("pk") if user.is_authenticated else Team.objects.none()


def visible_q(user) -> Q:
    """Rows of ServiceType / RegisteredService the user may see (both have the same fields)."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    member_orgs = _member_orgs(user)
    shared = ServiceType.shared_with.through.objects.filter(organization_id__in=member_orgs)
    return (
        Q(visibility=Visibility.PUBLIC)
        | Q(org__in=member_orgs, visibility__in=[Visibility.ORG, Visibility.ORGS])
        | Q(visibility=Visibility.ORGS, pk__in=shared.values("servicetype_id"))
        | Q(owner_team__in=_my_teams(user))
        | Q(org__in=_admin_orgs(user))
    )


def owner_q(user) -> Q:
    if not user.is_authenticated:
        return Q(pk__in=[])
    return Q(owner_team__in=_my_teams(user)) | Q(org__in=_admin_orgs(user))


@dataclass
class Ownership:
    """What a user owns, loaded once per request (two queries), to mark rows without more queries."""

    team_ids: set[int] = field(default_factory=set)
    admin_org_ids: set[int] = field(default_factory=set)
    developer_team_ids: set[int] = field(default_factory=set)
    roles: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, user) -> Ownership:
        if not user.is_authenticated:
            return cls()
        memberships = list(Membership.objects.filter(user=user).values_list("pk", "org_id", "role"))
        roles = {org_id: role for _, org_id, role in memberships}
        team_rows = Membership.teams.through.objects.filter(membership_id__in=[pk for pk, _, _ in memberships])
        by_membership = {pk: role for pk, _, role in memberships}
        team_ids, developer_team_ids = set(), set()
        for membership_id, team_id in team_rows.values_list("membership_id", "team_id"):
            team_ids.add(team_id)
            if Role.rank(by_membership[membership_id]) >= Role.rank(Role.DEVELOPER):
                developer_team_ids.add(team_id)
        admin_orgs = {org_id for org_id, role in roles.items() if role == Role.ADMIN}
        return cls(team_ids, admin_orgs, developer_team_ids, roles)

    def owns(self, obj) -> bool:
        """Member of the owning team (any role) or admin of the owning org."""
        return obj.owner_team_id in self.team_ids or obj.org_id in self.admin_org_ids

    def can_edit(self, obj) -> bool:
        """A developer in the owning team, or an admin of the owning org."""
        return obj.owner_team_id in self.developer_team_ids or obj.org_id in self.admin_org_ids


def is_type_owner(user, obj) -> bool:
    return Ownership.of(user).owns(obj)


def can_edit(user, obj) -> bool:
    return Ownership.of(user).can_edit(obj)


# --- types ----------------------------------------------------------------------------------


def types_for_user(user) -> QuerySet[ServiceType]:
    """Every type the user may see (visibility enforced; non-owners only see published types)."""
    live = TypeVersion.objects.filter(type=OuterRef("pk"), state__in=LIVE_STATES)
    return ServiceType.objects.filter(visible_q(user)).filter(owner_q(user) | Q(Exists(live)))


def get_type_for_user(user, slug: str) -> ServiceType:
    """One visible type, else 404."""
    try:
        return types_for_user(user).select_related("org", "owner_team").get(slug=slug)
    except (ServiceType.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No service type matches the given query.") from exc


def search_types(user, *, q: str = "", owner: str = "", source: str = "", visibility: str = "", org: str = ""):
    """The catalog list: search (name, slug, tags, description) and filters, ready to paginate.
    Types a broker no longer offers are left out (their instances still show them)."""
    qs = types_for_user(user).exclude(removed_from_broker=True)
    q = (q or "").strip()
    if q:
        for word in q.split()[:8]:
            qs = qs.filter(
                Q(name__icontains=word)
                | Q(slug__icontains=word)
                | Q(description__icontains=word)
                | Q(tags__icontains=word)
            )
    if owner:
        team_org, _, team = owner.rpartition("/")
        qs = qs.filter(owner_team__slug=team)
        if team_org:
            qs = qs.filter(org__slug=team_org)
    if source in ServiceType.Source.values:
        qs = qs.filter(source=source)
    if visibility in Visibility.values:
        qs = qs.filter(visibility=visibility)
    if org:
        qs = qs.filter(org__slug=org)
    return qs.order_by("name", "slug")


def with_listing_data(qs: QuerySet[ServiceType]) -> QuerySet[ServiceType]:
    """What the catalog grid and the API list show, in a constant number of queries."""
    return qs.select_related("org", "owner_team").prefetch_related(
        Prefetch(
            "versions",
            queryset=TypeVersion.objects.filter(state__in=LIVE_STATES).only(
                "pk", "type_id", "version", "state", "published_at", "major", "minor", "patch", "is_release"
            ),
            to_attr="live_versions",
        ),
        Prefetch("plans", queryset=Plan.objects.only("pk", "type_id", "slug", "name", "order"), to_attr="plan_list"),
        Prefetch("shared_with", to_attr="shared_list"),
    )


def latest_live(type_: ServiceType) -> TypeVersion | None:
    """The newest published version (falls back to the newest deprecated one)."""
    versions = getattr(type_, "live_versions", None)
    if versions is None:
        versions = list(type_.versions.filter(state__in=LIVE_STATES))
    published = [v for v in versions if v.state == TypeVersion.State.PUBLISHED]
    return (published or versions or [None])[0]


def owner_teams_for_filter(user) -> QuerySet[Team]:
    """Teams owning at least one type the user sees (for the owner filter)."""
    return (
        Team.objects.filter(pk__in=types_for_user(user).values("owner_team_id"))
        .select_related("org")
        .order_by("org__name", "name")
    )


def versions_for_user(user, type_: ServiceType, ownership: Ownership | None = None) -> QuerySet[TypeVersion]:
    ownership = ownership or Ownership.of(user)
    qs = TypeVersion.objects.filter(type=type_).select_related("created_by")
    if not ownership.owns(type_):
        qs = qs.filter(state__in=LIVE_STATES)
    return qs


def get_version_for_user(user, type_: ServiceType, version: str, ownership: Ownership | None = None) -> TypeVersion:
    """A version by number, or ``latest`` (newest published); 404 if the user may not see it."""
    qs = versions_for_user(user, type_, ownership)
    if version == "latest":
        found = qs.filter(state=TypeVersion.State.PUBLISHED).first()
    else:
        found = qs.filter(version=version).first()
    if found is None:
        raise Http404(f"{type_.slug} has no version {version}.")
    found.type = type_
    return found


def default_version(user, type_: ServiceType) -> TypeVersion | None:
    """The version a deploy uses when none is named: the newest published one."""
    found = TypeVersion.objects.filter(type=type_, state=TypeVersion.State.PUBLISHED).first()
    if found is not None:
        found.type = type_
    return found


def get_plan(type_: ServiceType, slug: str) -> Plan:
    found = Plan.objects.filter(type=type_, slug=slug).first()
    if found is None:
        raise Http404(f"{type_.slug} has no plan {slug}.")
    found.type = type_
    return found


def type_detail(user, slug: str) -> ServiceType:
    """A visible type with its versions (as the user may see them), plans and sharing, prefetched."""
    type_ = get_type_for_user(user, slug)
    ownership = Ownership.of(user)
    versions = list(versions_for_user(user, type_, ownership))
    for version in versions:
        version.type = type_
    type_.version_list = versions
    type_.plan_list = list(Plan.objects.filter(type=type_))
    for plan in type_.plan_list:
        plan.type = type_
    type_.shared_list = list(type_.shared_with.all())
    type_.ownership = ownership
    return type_


# --- registered services --------------------------------------------------------------------


def registered_services_for_user(user) -> QuerySet[RegisteredService]:
    if not user.is_authenticated:
        return RegisteredService.objects.none()
    member_orgs = _member_orgs(user)
    shared = RegisteredService.shared_with.through.objects.filter(organization_id__in=member_orgs)
    visible = (
        Q(visibility=Visibility.PUBLIC)
        | Q(org__in=member_orgs, visibility__in=[Visibility.ORG, Visibility.ORGS])
        | Q(visibility=Visibility.ORGS, pk__in=shared.values("registeredservice_id"))
        | Q(owner_team__in=_my_teams(user))
        | Q(org__in=_admin_orgs(user))
    )
    return (
        RegisteredService.objects.filter(visible)
        .select_related("org", "owner_team", "cluster")
        .prefetch_related(Prefetch("shared_with", to_attr="shared_list"))
    )


def get_registered_service_for_user(user, org_slug: str, slug: str) -> RegisteredService:
    try:
        return registered_services_for_user(user).get(org__slug=org_slug, slug=slug)
    except (RegisteredService.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No registered service matches the given query.") from exc


# --- brokers --------------------------------------------------------------------------------


def brokers_for_user(user) -> QuerySet:
    """Brokers of the user's organizations, and global ones (``org`` null), with their live
    offering/plan counts and when their catalog was last checked (the latest finished sync operation)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import CharField, Count, Subquery
    from django.db.models.functions import Cast

    from portal.access import orgs_for_user
    from portal.models import Operation

    checked = Operation.objects.filter(
        target_type=ContentType.objects.get_for_model(Broker),
        target_id=Cast(OuterRef("pk"), CharField()),
        kind="broker.sync",
        finished_at__isnull=False,
    ).order_by("-finished_at")
    return (
        Broker.objects.filter(Q(org__in=orgs_for_user(user)) | Q(org__isnull=True))
        .select_related("org", "owner_team")
        .annotate(
            offering_count=Count("service_types", filter=Q(service_types__removed_from_broker=False), distinct=True),
            plan_count=Count(
                "service_types__plans",
                filter=Q(service_types__removed_from_broker=False, service_types__plans__removed_from_broker=False),
                distinct=True,
            ),
            last_checked_at=Subquery(checked.values("finished_at")[:1]),
        )
        .order_by("name")
    )


def get_broker_for_user(user, pk) -> Broker:
    """One broker the user may see, else 404."""
    try:
        return brokers_for_user(user).get(pk=int(pk))
    except (Broker.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No broker matches the given query.") from exc


def can_manage_broker(user, broker, ownership: Ownership | None = None) -> bool:
    """Staff for a global broker; an admin of its organization otherwise (as catalog.brokers checks)."""
    if broker.org_id is None:
        return bool(user.is_staff or user.is_superuser)
    return broker.org_id in (ownership or Ownership.of(user)).admin_org_ids


__all__ = [
    "Ownership",
    "brokers_for_user",
    "can_manage_broker",
    "get_broker_for_user",
    "can_edit",
    "default_version",
    "get_plan",
    "get_registered_service_for_user",
    "get_type_for_user",
    "get_version_for_user",
    "is_type_owner",
    "latest_live",
    "owner_teams_for_filter",
    "registered_services_for_user",
    "search_types",
    "type_detail",
    "types_for_user",
    "versions_for_user",
    "visible_q",
    "with_listing_data",
]
