"""Reads of the OSB broker API: what a platform may see (its org's view of the catalog, its instances).

OSB ids of offerings and plans are UUIDv5 of the row ids in a per-installation namespace
(``settings.OSB_ID_NAMESPACE``): stable across catalog fetches, never reused, and computed rather than
stored. A type without plans is offered with one plan, ``default``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from catalog.models import Plan, ServiceType, TypeVersion
from instances.models import Binding, Instance
from osb import models as om
from osbapi.models import PlatformCredential
from portal.access import scope_for_user
from portal.models import Operation

DEFAULT_NAMESPACE = "6f1b7b3e-3c52-4d0a-a2f4-5b8d1e0c9a77"
RUNNING = (Operation.State.PENDING, Operation.State.IN_PROGRESS)
INSTANCE_KINDS = ("instance.provision", "instance.update", "instance.deprovision")
BINDING_KINDS = ("binding.create", "binding.delete")


def _namespace() -> uuid.UUID:
    return uuid.UUID(getattr(settings, "OSB_ID_NAMESPACE", "") or DEFAULT_NAMESPACE)


def offering_id(type_: ServiceType) -> str:
    return str(uuid.uuid5(_namespace(), f"type:{type_.pk}"))


def plan_id(type_: ServiceType, plan: Plan | None) -> str:
    key = f"plan:{plan.pk}" if plan is not None else f"type:{type_.pk}:default"
    return str(uuid.uuid5(_namespace(), key))


def platforms_for_user(user) -> QuerySet[PlatformCredential]:
    return scope_for_user(PlatformCredential.objects.select_related("org", "cluster", "created_by"), user)


# --- the catalog ---------------------------------------------------------------------------------


@dataclass
class Offering:
    type: ServiceType
    version: TypeVersion
    plans: dict[str, Plan | None]  # OSB plan id → plan (None: the synthesized default plan)

    @property
    def id(self) -> str:
        return offering_id(self.type)


_OFFERINGS: dict[int, tuple[tuple, dict[str, Offering]]] = {}


def offerings(platform: PlatformCredential) -> dict[str, Offering]:
    """OSB-enabled template types the platform's org may deploy, with their newest published version.

    Kept per process while the catalog stamp (one query) is unchanged; the rows are only read."""
    stamp = _catalog_stamp(platform)
    cached = _OFFERINGS.get(platform.principal_id)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    found = _load_offerings(platform)
    if len(_OFFERINGS) > 256:
        _OFFERINGS.clear()
    _OFFERINGS[platform.principal_id] = (stamp, found)
    return found


def _load_offerings(platform: PlatformCredential) -> dict[str, Offering]:
    from catalog.selectors import types_for_user

    published = TypeVersion.objects.filter(state=TypeVersion.State.PUBLISHED).order_by(
        "-major", "-minor", "-patch", "-is_release", "-prerelease"
    )
    plans = Plan.objects.annotate(
        osb_paid=Exists(_paid_prices(platform).filter(plan=OuterRef("pk"), listing__service_type=OuterRef("type_id")))
    )
    types = (
        types_for_user(platform.principal)
        .filter(osb_enabled=True, source=ServiceType.Source.TEMPLATE)
        .prefetch_related(
            Prefetch("versions", queryset=published, to_attr="published"), Prefetch("plans", queryset=plans)
        )
        .order_by("slug")
    )
    found: dict[str, Offering] = {}
    for type_ in types:
        if not type_.published:
            continue
        plans = list(type_.plans.all()) or [None]
        offering = Offering(type_, type_.published[0], {plan_id(type_, p): p for p in plans})
        found[offering.id] = offering
    return found


def _paid_prices(platform: PlatformCredential) -> QuerySet:
    """The marketplace prices that make a plan cost the platform's org something: a non-free price of a
    *listed* listing of the plan's own type, sold by another org (``marketplace.entitlements``: the vendor's
    own org needs no purchase). Spec, Service Plan object: "free: When false, Service Instances of this
    Service Plan have a cost. The default is true." — a listing that is a draft or unlisted is not offered
    for sale, so its plans stay free here."""
    from marketplace.models import Listing, ListingPrice

    return (
        ListingPrice.objects.filter(monthly_amount__gt=0, listing__state=Listing.State.LISTED)
        .exclude(listing__vendor_id=platform.org_id)
        .order_by()
    )


def is_free(plan: Plan | None) -> bool:
    """The catalog's ``free`` of a plan of an ``Offering`` (the synthesized default plan has no price)."""
    return plan is None or not getattr(plan, "osb_paid", False)


def _plan_schema(schema: dict, plan: Plan | None) -> dict:
    """The parameter schema as a platform sees it for a plan: locked parameters are not offered."""
    from catalog.schema import draft_of

    schema = json.loads(json.dumps(schema or {"type": "object"}))
    locked = set(plan.locked or []) if plan is not None else set()
    props = schema.get("properties")
    if locked and isinstance(props, dict):
        for name in locked:
            props.pop(name, None)
        if isinstance(schema.get("required"), list):
            schema["required"] = [r for r in schema["required"] if r not in locked]
    schema["$schema"] = draft_of(schema)
    return schema


def catalog_json(platform: PlatformCredential) -> dict:
    services = []
    for offering in offerings(platform).values():
        type_, version = offering.type, offering.version
        bindable = bool(version.binding_template)
        first_line = (version.changelog or "").strip().splitlines()
        maintenance = om.MaintenanceInfo(
            version=version.version, description=first_line[0][:255] if first_line else None
        )
        plans = []
        for pid, plan in offering.plans.items():
            schema = _plan_schema(version.parameter_schema, plan)
            plans.append(
                om.Plan(
                    id=pid,
                    name=plan.slug if plan else "default",
                    description=(plan.description or plan.name) if plan else f"{type_.name} with its defaults",
                    metadata={"displayName": plan.name if plan else "Default"},
                    free=is_free(plan),
                    bindable=bindable,
                    schemas=om.Schemas(service_instance_create=schema, service_instance_update=schema),
                    maintenance_info=maintenance,
                )
            )
        services.append(
            om.ServiceOffering(
                id=offering.id,
                name=type_.slug,
                description=(type_.description or type_.name).strip()[:255] or type_.slug,
                bindable=bindable,
                plans=tuple(plans),
                tags=tuple(str(t) for t in type_.tags or []),
                instances_retrievable=True,
                bindings_retrievable=True,
                allow_context_updates=True,  # osbapi.services.update keeps a changed context
                plan_updateable=len(plans) > 1,
                metadata={
                    "displayName": type_.name,
                    "longDescription": type_.description,
                    "providerDisplayName": "Servicebay",
                    "version": version.version,
                },
            ).to_json()
        )
    return {"services": services}


def catalog_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _catalog_stamp(platform: PlatformCredential) -> tuple:
    """One query over exactly the types this platform may see (so sharing a type with, or taking it away
    from, the platform's org changes it even when the type's row does not): each type's ``updated_at``
    (catalog.services touches it on every change of the type, its versions and plans) and its version and
    plan ids and counts (rows added or removed any other way); and what decides the plans' ``free``
    (``_paid_prices``): the number and the sum of the ids of the type's plans with a price that makes them
    paid for this org — so publishing or unlisting a listing, or a price changed to or from 0 (prices have
    no ``updated_at``), is seen at once. Subqueries, not joins: the version × plan join is not multiplied."""
    from django.db.models import Count, IntegerField, Max, Subquery, Sum

    from catalog.selectors import types_for_user

    paid = _paid_prices(platform).filter(listing__service_type=OuterRef("pk")).values("listing")

    def of_paid(aggregate) -> Subquery:
        return Subquery(paid.annotate(x=aggregate).values("x")[:1], output_field=IntegerField())

    return (
        platform.org_id,
        *types_for_user(platform.principal)
        .filter(osb_enabled=True, source=ServiceType.Source.TEMPLATE)
        .annotate(
            v=Max("versions__id"),
            vn=Count("versions", distinct=True),
            p=Max("plans__id"),
            pn=Count("plans", distinct=True),
            paid_n=of_paid(Count("pk")),
            paid_sum=of_paid(Sum("plan_id")),
        )
        .order_by("pk")
        .values_list("pk", "updated_at", "v", "vn", "p", "pn", "paid_n", "paid_sum"),
    )


_CATALOGS: dict[int, tuple[tuple, bytes, str]] = {}


def catalog_body(platform: PlatformCredential) -> tuple[bytes, str]:
    """``(JSON body, ETag)`` of the platform's catalog, rebuilt only when the stamp changed (per process)."""
    stamp = _catalog_stamp(platform)
    cached = _CATALOGS.get(platform.principal_id)
    if cached is not None and cached[0] == stamp:
        return cached[1], cached[2]
    body = json.dumps(catalog_json(platform), separators=(",", ":")).encode()
    etag = catalog_etag(body)
    if len(_CATALOGS) > 256:
        _CATALOGS.clear()
    _CATALOGS[platform.principal_id] = (stamp, body, etag)
    return body, etag


# --- instances and bindings of a platform -----------------------------------------------------------


def live_instance(platform: PlatformCredential, instance_id: str) -> Instance | None:
    return (
        Instance.objects.select_related("org", "type", "version", "plan", "cluster")
        .filter(platform=platform, osb_instance_id=instance_id)
        .exclude(state=Instance.State.DEPROVISIONED)
        .first()
    )


def latest_instance(platform: PlatformCredential, instance_id: str) -> Instance | None:
    """The live instance with this id, else the last deprovisioned one."""
    return (
        Instance.objects.select_related("org", "type", "version", "plan")
        .filter(platform=platform, osb_instance_id=instance_id)
        .order_by("-created_at")
        .first()
    )


def live_binding(instance: Instance, binding_id: str) -> Binding | None:
    return (
        Binding.objects.filter(instance=instance, platform_id=instance.platform_id, osb_binding_id=binding_id)
        .exclude(state=Binding.State.DELETED)
        .first()
    )


def latest_binding(instance: Instance, binding_id: str) -> Binding | None:
    return (
        Binding.objects.filter(instance=instance, platform_id=instance.platform_id, osb_binding_id=binding_id)
        .order_by("-created_at")
        .first()
    )


def operations_of(obj, kinds: tuple[str, ...]) -> QuerySet[Operation]:
    return Operation.objects.filter(
        target_type=ContentType.objects.get_for_model(type(obj)), target_id=str(obj.pk), kind__in=kinds
    ).order_by("-created_at")


def running_operation(obj, kinds: tuple[str, ...]) -> Operation | None:
    return operations_of(obj, kinds).filter(state__in=RUNNING).first()


def find_operation(obj, kinds: tuple[str, ...], operation: str | None) -> Operation | None:
    """The named operation of ``obj`` (``None`` if it is not one of its), else its newest one."""
    qs = operations_of(obj, kinds)
    if operation is None:
        return qs.first()
    try:
        return qs.filter(pk=uuid.UUID(operation)).first()
    except ValueError:
        return None


def last_step(operation: Operation) -> str:
    step = operation.steps.order_by("-at", "-pk").values_list("message", flat=True).first()
    return step or operation.get_state_display()
