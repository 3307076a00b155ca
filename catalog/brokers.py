"""Open Service Brokers as a source of service types.

* ``register_broker`` / ``remove_broker`` / ``request_sync``: the write path (org admins; global
  brokers — ``org=None`` — only staff), audited; registering starts a ``broker.sync`` operation.
* ``sync_broker``: fetch the broker's catalog (``osb.BrokerClient``) and mirror it: an offering is a
  ``ServiceType`` (source=broker, slug ``<broker>-<offering>``) with one published ``TypeVersion``
  carrying the plans' create-parameters schema, a plan is a ``Plan`` with its ``maintenance_info``.
  Offerings and plans the broker dropped are marked ``removed_from_broker``, never deleted (instances
  keep pointing at them). A sync that finds nothing changed writes no catalog row.
* ``sync_all``: what beat runs every ``BROKER_SYNC_SECONDS`` (a ``broker.sync`` operation per broker).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

import osb
from catalog.models import Broker, Plan, ServiceType, TypeVersion, Visibility
from osb.errors import OSBError
from portal import audit, operations
from portal.access import require_role
from portal.models import Operation, Organization, Role, Team
from portal.operations import OperationContext, OperationFailed, RetryLater, handler

log = logging.getLogger(__name__)

FIRST_VERSION = "1.0.0"


def slugify_part(text: str, limit: int = 50) -> str:
    """``"PostgreSQL DB"`` → ``"postgresql-db"`` (lowercase letters, digits and single dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].strip("-") or "x"


def type_slug(broker: Broker, offering_name: str) -> str:
    return slugify_part(f"{broker.name}-{slugify_part(offering_name)}")


def _can_manage(actor, broker: Broker) -> None:
    if broker.org_id is None:
        if not (actor.is_staff or actor.is_superuser):
            raise PermissionDenied("Only staff can manage global brokers.")
        return
    require_role(actor, broker.org, Role.ADMIN)


def register_broker(
    *,
    actor,
    org: Organization | None,
    name: str,
    url: str,
    auth_kind: str = Broker.Auth.BASIC,
    username: str = "",
    secret: str = "",
    owner_team: Team | None = None,
    via: str = "ui",
) -> tuple[Broker, Operation]:
    """Register a broker (org admins; staff for a global one) and start its first sync."""
    if org is None:
        if not (actor.is_staff or actor.is_superuser):
            raise PermissionDenied("Only staff can register a global broker; name an organization.")
        if owner_team is None:
            raise ValidationError({"owner_team": "A global broker needs a team that owns its types."})
    else:
        require_role(actor, org, Role.ADMIN)
        if owner_team is None:
            owner_team = Team.objects.filter(org=org).order_by("pk").first()
            if owner_team is None:
                raise ValidationError({"owner_team": f"{org.name} has no team to own the broker's types yet."})
        elif owner_team.org_id != org.pk:
            raise ValidationError({"owner_team": "Choose a team of the broker's organization."})
    broker = Broker(
        org=org,
        owner_team=owner_team,
        name=name,
        url=url.rstrip("/"),
        auth_kind=auth_kind,
        username=username,
        secret=secret,
        created_by=actor,
    )
    broker.full_clean(exclude=["owner_team", "org"])
    if "@" in urlsplit(broker.url).netloc:  # it is shown on pages, in the audit log and in operation steps
        raise ValidationError({"url": "Put no user name or password in the URL; use the username and secret fields."})
    if auth_kind == Broker.Auth.BASIC and not username:
        raise ValidationError({"username": "Basic auth needs a username."})
    with transaction.atomic():
        broker.save()
        audit.record(
            actor=actor,
            action="broker.register",
            org=org,
            target=broker,
            changes={"name": name, "url": broker.url, "auth": auth_kind, "global": org is None},
            via=via,
        )
        op = _start_sync(broker, actor)
    return broker, op


def _start_sync(broker: Broker, actor=None) -> Operation:
    org = broker.org or broker.owner_team.org
    return operations.start_operation(org=org, kind="broker.sync", target=broker, requested_by=actor, max_attempts=1)


def request_sync(*, actor, broker: Broker, via: str = "ui") -> Operation:
    _can_manage(actor, broker)
    with transaction.atomic():
        audit.record(actor=actor, action="broker.sync", org=broker.org, target=broker, via=via)
        return _start_sync(broker, actor)


def remove_broker(*, actor, broker: Broker, via: str = "ui") -> None:
    """Forget a broker; its types stay (marked removed) as long as instances use them."""
    from instances.models import Instance

    _can_manage(actor, broker)
    live = Instance.objects.filter(type__broker=broker).exclude(state=Instance.State.DEPROVISIONED)
    if live.exists():
        names = ", ".join(live.values_list("name", flat=True)[:10])
        raise ValidationError({"broker": f"Deprovision its instances first: {names}."})
    with transaction.atomic():
        ServiceType.objects.filter(broker=broker).update(removed_from_broker=True, updated_at=timezone.now())
        audit.record(actor=actor, action="broker.remove", org=broker.org, target=broker, via=via)
        broker.delete()


# --- sync ---------------------------------------------------------------------------------


def _create_schema(offering: osb.models.ServiceOffering) -> dict[str, Any]:
    for plan in offering.plans:
        if plan.schemas and plan.schemas.service_instance_create:
            schema = dict(plan.schemas.service_instance_create)
            schema.pop("$schema", None)  # the catalog's validator picks its own draft
            return schema
    return {}


def _type_fields(broker: Broker, offering) -> dict[str, Any]:
    meta = offering.metadata or {}
    return {
        "name": str(meta.get("displayName") or offering.name)[:100],
        "description": str(meta.get("longDescription") or offering.description),
        "tags": list(offering.tags)[:20],
        "removed_from_broker": False,
    }


def _plan_fields(plan, order: int) -> dict[str, Any]:
    meta = plan.metadata or {}
    return {
        "name": str(meta.get("displayName") or plan.name)[:100],
        "description": plan.description,
        "maintenance_info": plan.maintenance_info.to_json() if plan.maintenance_info else {},
        "maximum_polling_duration": plan.maximum_polling_duration,
        "order": order,
        "removed_from_broker": False,
    }


def _changed(obj, fields: dict[str, Any]) -> list[str]:
    return [k for k, v in fields.items() if getattr(obj, k) != v]


def _next_version(latest: TypeVersion | None) -> str:
    if latest is None:
        return FIRST_VERSION
    return f"{latest.major}.{latest.minor + 1}.0"


def apply_catalog(broker: Broker, catalog) -> dict[str, int]:
    """Mirror ``catalog`` into the broker's types and plans; only what differs is written.

    New types, versions and plans are written with one ``bulk_create`` each (a first sync of 500
    offerings × 5 plans is three INSERTs, not thousands); changed rows are updated one by one (rare).
    """
    counts = {"created": 0, "updated": 0, "removed": 0}
    now = timezone.now()
    types = {
        t.broker_service_id: t for t in ServiceType.objects.filter(broker=broker).prefetch_related("plans", "versions")
    }
    seen: set[str] = set()
    visibility = Visibility.PUBLIC if broker.org_id is None else Visibility.ORG
    new_types: list[ServiceType] = []
    for offering in catalog.services:
        seen.add(offering.id)
        fields = _type_fields(broker, offering)
        type_ = types.get(offering.id)
        if type_ is None:
            new_types.append(
                ServiceType(
                    org_id=broker.org_id or broker.owner_team.org_id,
                    owner_team_id=broker.owner_team_id,
                    slug=type_slug(broker, offering.name),
                    source=ServiceType.Source.BROKER,
                    broker=broker,
                    broker_service_id=offering.id,
                    visibility=visibility,
                    icon="plug",
                    created_by=broker.created_by,
                    **fields,
                )
            )
        elif changed := _changed(type_, fields):
            for k in changed:
                setattr(type_, k, fields[k])
            type_.updated_at = now
            type_.save(update_fields=[*changed, "updated_at"])
            counts["updated"] += 1
    created_ids = set()
    if new_types:
        for type_ in ServiceType.objects.bulk_create(new_types):
            types[type_.broker_service_id] = type_
            created_ids.add(type_.broker_service_id)
        counts["created"] += len(new_types)
    new_versions: list[TypeVersion] = []
    new_plans: list[Plan] = []
    for offering in catalog.services:
        type_ = types[offering.id]
        if offering.id in created_ids:
            existing_plans: dict[str, Plan] = {}
            versions: list[TypeVersion] = []
        else:
            existing_plans = {p.broker_plan_id: p for p in type_.plans.all()}
            versions = sorted(
                (v for v in type_.versions.all() if v.state == TypeVersion.State.PUBLISHED),
                key=lambda v: (v.major, v.minor, v.patch),
                reverse=True,
            )
        schema = _create_schema(offering)
        latest = versions[0] if versions else None
        if latest is None or latest.parameter_schema != schema:
            version = TypeVersion(
                type=type_,
                version=_next_version(latest),
                state=TypeVersion.State.PUBLISHED,
                parameter_schema=schema,
                changelog=f"Synced from broker {broker.name}",
                published_at=now,
            )
            version.set_sort_keys()  # what TypeVersion.save does; bulk_create does not call save
            new_versions.append(version)
            counts["updated"] += latest is not None
        live_plan_ids = set()
        for order, plan in enumerate(offering.plans):
            live_plan_ids.add(plan.id)
            pfields = _plan_fields(plan, order)
            row = existing_plans.get(plan.id)
            if row is None:
                new_plans.append(Plan(type=type_, slug=slugify_part(plan.name), broker_plan_id=plan.id, **pfields))
                counts["created"] += 1
            elif changed := _changed(row, pfields):
                for k in changed:
                    setattr(row, k, pfields[k])
                row.save(update_fields=changed)
                counts["updated"] += 1
        gone = [p.pk for pid, p in existing_plans.items() if pid not in live_plan_ids and not p.removed_from_broker]
        if gone:
            counts["removed"] += Plan.objects.filter(pk__in=gone).update(removed_from_broker=True)
    if new_versions:
        TypeVersion.objects.bulk_create(new_versions)
    if new_plans:
        Plan.objects.bulk_create(new_plans)
    gone_types = [t.pk for sid, t in types.items() if sid not in seen and not t.removed_from_broker]
    if gone_types:
        counts["removed"] += ServiceType.objects.filter(pk__in=gone_types).update(
            removed_from_broker=True, updated_at=now
        )
    return counts


def sync_broker(broker: Broker) -> dict[str, int]:
    """Fetch the catalog and mirror it. A failure is stored on the broker (and raised as OSBError).

    ``last_sync_at`` is when the broker's rows last changed (a catalog change, a new ETag, the first
    sync, or recovering from an error): a check that finds nothing new writes nothing at all. When a
    broker was last *checked* is its latest ``broker.sync`` operation (``last_checked``).
    """
    try:
        with broker.client() as client:
            catalog = client.catalog(etag=broker.catalog_etag or None)
    except OSBError as exc:
        error = str(exc)[:2000]
        if error != broker.last_sync_error:
            Broker.objects.filter(pk=broker.pk).update(last_sync_error=error, last_sync_at=timezone.now())
        raise
    now = timezone.now()
    if catalog is None:  # 304: not modified
        if broker.last_sync_error or broker.last_sync_at is None:
            Broker.objects.filter(pk=broker.pk).update(last_sync_at=now, last_sync_error="")
        return {"created": 0, "updated": 0, "removed": 0}
    with transaction.atomic():
        counts = apply_catalog(broker, catalog)
        etag = catalog.etag or ""
        if any(counts.values()) or broker.last_sync_error or broker.last_sync_at is None or etag != broker.catalog_etag:
            Broker.objects.filter(pk=broker.pk).update(last_sync_at=now, last_sync_error="", catalog_etag=etag)
    return counts


def last_checked(broker: Broker):
    """When the broker's catalog was last fetched (its latest finished sync operation), else ``last_sync_at``."""
    from django.contrib.contenttypes.models import ContentType

    finished = (
        Operation.objects.filter(
            target_type=ContentType.objects.get_for_model(Broker),
            target_id=str(broker.pk),
            kind="broker.sync",
            finished_at__isnull=False,
        )
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    candidates = [t for t in (finished, broker.last_sync_at) if t is not None]
    return max(candidates) if candidates else None


def sync_all() -> dict[str, str]:
    """Beat: start a ``broker.sync`` operation for every broker (each one logged, retried, and the
    record of when the broker was last checked — an unchanged catalog writes no catalog row)."""
    started = {}
    for broker in Broker.objects.select_related("org", "owner_team__org"):
        started[broker.name] = str(_start_sync(broker).pk)
    return started


@handler("broker.sync", label="Broker catalog sync")
def sync_handler(ctx: OperationContext) -> dict:
    broker = Broker.objects.select_related("owner_team", "created_by").get(pk=ctx.operation.target_id)
    ctx.log(f"Fetching the catalog of {broker.name} ({broker.url})")
    try:
        counts = sync_broker(broker)
    except osb.errors.NoResponse as exc:
        raise RetryLater(f"The broker did not answer: {exc}") from exc
    except OSBError as exc:
        raise OperationFailed(f"The broker's catalog could not be read: {exc}") from exc
    ctx.log(f"Synced: {counts['created']} created, {counts['updated']} updated, {counts['removed']} removed")
    return counts
