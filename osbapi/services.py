"""Every write of the OSB broker API: platform credentials, and the OSB requests of platforms.

The OSB functions map the protocol onto the same service functions (and operation pipeline) as the
UI, acting as the platform's principal, and answer with a ``Reply`` (status + body, exactly as the
spec says). Each request of a platform runs in one transaction that first takes a lock on (platform, instance_id),
so a platform's requests for one instance are serialized: two identical PUTs can never create two instances. An
error reply is raised (``raise Reply(...)``) before anything is written — or it rolls the
transaction back — so a 4xx never changes state.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import Http404
from django.utils import timezone

from catalog.models import ServiceType
from instances import services as instance_services
from instances.models import Binding, Cluster, Instance
from osb import errors as oe
from osb import server as os_
from osb.models import OperationState
from osbapi import selectors
from osbapi.models import PlatformCredential
from portal import audit, operations
from portal.access import require_role
from portal.db import save_unique
from portal.models import Membership, Operation, Organization, Role

User = get_user_model()


@dataclass(eq=False)
class Reply(Exception):
    """An OSB answer: ``status`` and JSON ``body`` (``None``: no body), plus extra headers."""

    status: int
    body: dict[str, Any] | None = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, description: str, error: str | None = None) -> Reply:
    return Reply(status, oe.error_body(error, description[:2000] or "Error."))


def bad_request(description: str) -> Reply:
    return _error(400, description)


def _describe(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{key}: {' '.join(messages)}" for key, messages in exc.message_dict.items())
    return " ".join(exc.messages)


# --- platform credentials ------------------------------------------------------------------------


def create_platform_credential(
    *,
    actor,
    org: Organization,
    name: str,
    description: str = "",
    cluster: Cluster | None = None,
    namespace: str = "",
    via: str = "ui",
) -> tuple[PlatformCredential, str]:
    """A platform that may consume the org's OSB-enabled types (org admins). Returns (credential, secret):
    the secret is shown this once and stored only as a password hash."""
    require_role(actor, org, Role.ADMIN)
    if cluster is not None and cluster.org_id != org.pk:
        raise ValidationError({"cluster": "Choose a cluster of your organization."})
    username = f"{org.slug}-{name}"[:150]
    credential = PlatformCredential(
        org=org,
        name=name,
        description=description,
        username=username,
        cluster=cluster,
        namespace=namespace,
        created_by=actor,
    )
    credential.full_clean(exclude=["principal", "secret_hash", "cluster"], validate_unique=False)
    if PlatformCredential.objects.filter(org=org, name=name).exists():
        raise ValidationError({"name": f"{org.name} already has a platform called {name!r}."})
    secret = secrets.token_urlsafe(32)
    credential.secret_hash = make_password(secret)
    with transaction.atomic():
        principal = User(username=f"platform.{org.slug}.{name}"[:150], is_active=True)
        principal.set_unusable_password()
        save_unique(principal, field="name", message=f"{org.name} already has a platform called {name!r}.")
        Membership.objects.create(org=org, user=principal, role=Role.DEVELOPER)
        credential.principal = principal
        save_unique(credential, field="name", message=f"{org.name} already has a platform called {name!r}.")
        audit.record(
            actor=actor,
            action="platform.create",
            org=org,
            target=credential,
            via=via,
            changes={"name": name, "username": username, "cluster": cluster.name if cluster else None},
        )
    return credential, secret


def revoke_platform_credential(*, actor, credential: PlatformCredential, via: str = "ui") -> PlatformCredential:
    """The platform can no longer call the broker API; its instances stay (visible under it)."""
    require_role(actor, credential.org, Role.ADMIN)
    if credential.revoked_at is not None:
        raise ValidationError({"platform": f"{credential.name} is already revoked."})
    with transaction.atomic():
        now = timezone.now()
        PlatformCredential.objects.filter(pk=credential.pk).update(revoked_at=now)
        User.objects.filter(pk=credential.principal_id).update(is_active=False)
        audit.record(actor=actor, action="platform.revoke", org=credential.org, target=credential, via=via)
    _VERIFIED.clear()
    credential.revoked_at = now
    return credential


# Successful checks of (credential, hash, secret) — password hashing costs ~100 ms by design, and a
# platform sends its secret on every request. Kept in this process only; a revoked or re-hashed
# credential never matches (the row is read on every request).
_VERIFIED: dict[str, float] = {}
_VERIFIED_MAX = 1024


def authenticate(username: str, secret: str) -> PlatformCredential | None:
    credential = (
        PlatformCredential.objects.select_related("org", "principal", "cluster")
        .filter(username=username, revoked_at__isnull=True)
        .first()
    )
    if credential is None:
        make_password(secret)  # the same cost as a real check: no user-name oracle by timing
        return None
    key = hashlib.sha256(f"{credential.pk}\0{credential.secret_hash}\0{secret}".encode()).hexdigest()
    if key not in _VERIFIED:
        if not check_password(secret, credential.secret_hash):
            return None
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = time.monotonic()
    if credential.last_used_at is None or (timezone.now() - credential.last_used_at).total_seconds() > 60:
        PlatformCredential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
    return credential


# --- the OSB requests ---------------------------------------------------------------------------


@dataclass
class Caller:
    """Who sent an OSB request: the platform, and what it said about its user and the request."""

    platform: PlatformCredential
    identity: dict[str, Any] | None = None
    request_id: str = ""

    @property
    def actor(self):
        return self.platform.principal


def _lock(caller: Caller, instance_id: str) -> None:
    """Serialize this platform's requests for one instance (until the transaction ends): two identical
    PUTs can never both create it. PostgreSQL: an advisory lock on (platform, instance_id), so other
    instances go on in parallel; elsewhere (SQLite, which serializes writes anyway): the platform's row."""
    if connection.vendor == "postgresql":
        key = int.from_bytes(
            hashlib.sha256(f"osb:{caller.platform.pk}:{instance_id}".encode()).digest()[:8], "big", signed=True
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
    else:
        PlatformCredential.objects.select_for_update().filter(pk=caller.platform.pk).first()


def _record(caller: Caller, action: str, target, **changes: Any) -> None:
    audit.record(
        actor=caller.actor,
        action=action,
        org=caller.platform.org,
        target=target,
        via="osb",
        actor_repr=f"platform {caller.platform.name}",
        changes={
            "platform": caller.platform.name,
            "originating_identity": caller.identity,
            "request_identity": caller.request_id or None,
            **changes,
        },
    )


def _dashboard_url(instance: Instance) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{instance.get_absolute_url()}"


def _accepted(op: Operation, **extra: Any) -> Reply:
    return Reply(202, {**extra, "operation": str(op.pk)})


def _concurrency(description: str) -> Reply:
    return _error(422, description, oe.CONCURRENCY_ERROR)


def _async_required() -> Reply:
    return _error(
        422,
        "This Service Plan requires client support for asynchronous service operations (send accepts_incomplete=true).",
        oe.ASYNC_REQUIRED,
    )


def _maintenance_conflict(current: str) -> Reply:
    return _error(
        422,
        f"The maintenance information for the requested Service Plan has changed (now {current}); "
        "fetch the catalog again.",
        oe.MAINTENANCE_INFO_CONFLICT,
    )


def _service_error(exc: ValidationError | PermissionDenied | Http404, state_keys: set[str] | frozenset[str]) -> Reply:
    if isinstance(exc, ValidationError):
        keys = set(getattr(exc, "message_dict", {}) or {})
        if keys and keys <= state_keys:  # the instance's state, not the request, is the problem
            return _error(422, _describe(exc))
        return bad_request(_describe(exc))
    return _error(422, str(exc) or "The platform may not do this.")


# Refusals of instances.services.provision_instance that are about the org's state, not about the request:
# 422 (Unprocessable Entity), never 400 ("MUST be returned if the request is malformed or missing mandatory
# data"). ``plan``: ``_resolve`` has already checked that the plan is one of the offering's, so a ``plan``
# refusal left is ``marketplace.entitlements.require_entitlement``'s — a paid plan the org has no unused
# purchase of. Its message, with the link to the purchase page, is the ``description``. The spec defines no
# error code for this (only AsyncRequired, ConcurrencyError, RequiresApp, MaintenanceInfoConflict, each of
# which asks the platform to act in a set way), so the body has no ``error``: a platform shows the
# description to its user, and the same request is accepted once the org has bought the plan.
PROVISION_STATE_KEYS = frozenset({"cluster", "version", "name", "type", "plan"})


def _instance_name(type_: ServiceType, caller: Caller, instance_id: str) -> str:
    digest = hashlib.sha256(f"{caller.platform.pk}:{instance_id}".encode()).hexdigest()[:10]
    name = f"{type_.slug[:24].rstrip('-')}-{digest}"
    return name if name[0].isalpha() else f"i{name[:39]}"


def _resolve(caller: Caller, service_id: str, plan_id: str | None):
    offering = selectors.offerings(caller.platform).get(service_id)
    if offering is None:
        raise bad_request(f"service_id {service_id!r} is not in this broker's catalog.")
    if plan_id is None:
        return offering, None, False
    if plan_id not in offering.plans:
        raise bad_request(f"plan_id {plan_id!r} is not a plan of {offering.type.slug}.")
    return offering, offering.plans[plan_id], True


def provision(caller: Caller, instance_id: str, request: os_.ProvisionRequest, accepts_incomplete: bool) -> Reply:
    fingerprint = os_.digest(request.attributes())
    with transaction.atomic():
        _lock(caller, instance_id)
        existing = selectors.live_instance(caller.platform, instance_id)
        if existing is not None:
            return _provision_again(existing, fingerprint)
        offering, plan, _ = _resolve(caller, request.service_id, request.plan_id)
        if request.maintenance_version is not None and request.maintenance_version != offering.version.version:
            raise _maintenance_conflict(offering.version.version)
        if not accepts_incomplete:
            raise _async_required()
        context = {**request.context}
        for key in ("organization_guid", "space_guid"):
            if getattr(request, key):
                context.setdefault(key, getattr(request, key))
        try:
            instance, op = instance_services.provision_instance(
                actor=caller.actor,
                org=caller.platform.org,
                service_type=offering.type,
                name=_instance_name(offering.type, caller, instance_id),
                plan=plan,
                version=offering.version,
                parameters=request.parameters,
                cluster=caller.platform.cluster,
                namespace=caller.platform.namespace,
                via="osb",
                osb={
                    "platform": caller.platform,
                    "osb_instance_id": instance_id,
                    "osb_context": context,
                    "osb_request_digest": fingerprint,
                },
            )
        except (ValidationError, PermissionDenied, Http404) as exc:
            raise _service_error(exc, PROVISION_STATE_KEYS) from exc
        _record(caller, "osb.provision", instance, instance_id=instance_id, context=context)
    return _accepted(op, dashboard_url=_dashboard_url(instance))


def _provision_again(instance: Instance, fingerprint: str) -> Reply:
    if instance.osb_request_digest != fingerprint:
        raise _error(409, "A Service Instance with this id already exists with different attributes.")
    running = selectors.running_operation(instance, selectors.INSTANCE_KINDS)
    if running is not None and running.kind == "instance.provision":
        return _accepted(running, dashboard_url=_dashboard_url(instance))
    if instance.state in (Instance.State.READY, Instance.State.UPDATING):
        return Reply(200, {"dashboard_url": _dashboard_url(instance)})
    if instance.state == Instance.State.FAILED:
        raise _error(422, f"The Service Instance failed: {instance.status_message or 'no reason'}; deprovision it.")
    raise _concurrency("Another operation for this Service Instance is in progress.")


def _with_state_flags(reply: Reply, instance: Instance, *, update: bool) -> Reply:
    """Spec, "Service Broker Errors": ``instance_usable`` — "If an update or deprovisioning operation
    failed, this flag indicates whether or not the Service Instance is still usable"; ``update_repeatable``
    — "If an update operation failed, this flag indicates whether this update can be repeated or not".
    Set on a refused update or deprovision of a settled (ready or failed) instance; a 4xx changed nothing,
    so the instance is as usable as before. Only a ``ConcurrencyError`` may succeed when repeated (later)."""
    if reply.body is None or reply.status < 400 or instance.state not in (Instance.State.READY, Instance.State.FAILED):
        return reply
    body = {**reply.body, "instance_usable": instance.state == Instance.State.READY}
    if update:
        body["update_repeatable"] = reply.body.get("error") == oe.CONCURRENCY_ERROR
    return Reply(reply.status, body, reply.headers)


def update(caller: Caller, instance_id: str, request: os_.UpdateRequest, accepts_incomplete: bool) -> Reply:
    holder: list[Instance] = []
    try:
        return _update(caller, instance_id, request, accepts_incomplete, holder)
    except Reply as reply:
        raise (_with_state_flags(reply, holder[0], update=True) if holder else reply) from None


def _update_context(caller: Caller, instance: Instance, context: dict[str, Any]) -> bool:
    """The catalog says ``allow_context_updates: true``: a changed ``context`` (e.g. Cloud Foundry's
    ``instance_name``, a moved space) is kept on the instance, as provisioning kept it."""
    if not context or context == instance.osb_context:
        return False
    Instance.objects.filter(pk=instance.pk).update(osb_context=context)
    _record(caller, "osb.update_context", instance, instance_id=instance.osb_instance_id, context=context)
    instance.osb_context = context
    return True


def _update(
    caller: Caller, instance_id: str, request: os_.UpdateRequest, accepts_incomplete: bool, holder: list
) -> Reply:
    fingerprint = os_.digest(request.attributes())
    with transaction.atomic():
        _lock(caller, instance_id)
        instance = selectors.live_instance(caller.platform, instance_id)
        if instance is None:
            raise _error(404, "This broker has no Service Instance with this id.")
        holder.append(instance)
        if request.service_id != selectors.offering_id(instance.type):
            raise bad_request("service_id is not the Service Offering of this Service Instance.")
        offering = selectors.offerings(caller.platform).get(request.service_id)
        if offering is None:
            raise _error(422, f"{instance.type.slug} is no longer offered over OSB; it cannot be updated.")
        plan, plan_given = None, request.plan_id is not None
        if plan_given:
            if request.plan_id not in offering.plans:
                raise bad_request(f"plan_id {request.plan_id!r} is not a plan of {offering.type.slug}.")
            plan = offering.plans[request.plan_id]
        running = selectors.running_operation(instance, selectors.INSTANCE_KINDS)
        if running is not None:
            if running.kind == "instance.update" and running.params.get("osb_digest") == fingerprint:
                return _accepted(running)
            raise _concurrency("Another operation for this Service Instance is in progress.")
        if instance.state not in (Instance.State.READY, Instance.State.FAILED):
            raise _concurrency(f"The Service Instance is {instance.get_state_display().lower()}.")
        latest = offering.version
        if request.maintenance_version is not None and request.maintenance_version != latest.version:
            raise _maintenance_conflict(latest.version)
        upgrade = latest if request.maintenance_version == latest.version and instance.version_id != latest.pk else None
        plan_change = plan_given and (plan.pk if plan else None) != instance.plan_id
        if not plan_change and request.parameters is None and upgrade is None:
            _update_context(caller, instance, request.context)
            return Reply(200, {})
        if not accepts_incomplete:
            raise _async_required()
        try:
            op = instance_services.update_instance(
                actor=caller.actor,
                instance=instance,
                plan=plan if plan_change else None,
                changes=request.parameters or {},
                version=upgrade,
                via="osb",
            )
        except (ValidationError, PermissionDenied, Http404) as exc:
            # ``plan``: the plan is the offering's (resolved above); a refusal is an unbought paid plan.
            raise _service_error(exc, {"instance", "plan"}) from exc
        if op.kind != "instance.update":  # a pricier paid marketplace plan needs a purchase: not over OSB
            raise _error(422, "This plan change needs a purchase approved in Servicebay; it cannot be made over OSB.")
        Operation.objects.filter(pk=op.pk).update(params={**op.params, "osb_digest": fingerprint})
        _update_context(caller, instance, request.context)
        _record(
            caller,
            "osb.update",
            instance,
            instance_id=instance_id,
            plan=plan.slug if plan_change and plan else None,
            maintenance_version=upgrade.version if upgrade else None,
        )
    return _accepted(op)


def _check_ids(instance: Instance, service_id: str | None, plan_id: str | None) -> None:
    if not service_id or not plan_id:
        raise bad_request("The query parameters service_id and plan_id are required.")
    if service_id != selectors.offering_id(instance.type):
        raise bad_request("service_id is not the Service Offering of this Service Instance.")
    if plan_id != selectors.plan_id(instance.type, instance.plan):
        raise bad_request("plan_id is not the Service Plan of this Service Instance.")


def deprovision(
    caller: Caller, instance_id: str, service_id: str | None, plan_id: str | None, accepts_incomplete: bool
) -> Reply:
    holder: list[Instance] = []
    try:
        return _deprovision(caller, instance_id, service_id, plan_id, accepts_incomplete, holder)
    except Reply as reply:
        raise (_with_state_flags(reply, holder[0], update=False) if holder else reply) from None


def _deprovision(
    caller: Caller, instance_id: str, service_id: str | None, plan_id: str | None, accepts_incomplete: bool, holder
) -> Reply:
    """Spec, "Deprovisioning": ``service_id`` and ``plan_id`` are REQUIRED query parameters (400 without)."""
    if not service_id or not plan_id:
        raise bad_request("The query parameters service_id and plan_id are required.")
    with transaction.atomic():
        _lock(caller, instance_id)
        instance = selectors.live_instance(caller.platform, instance_id)
        if instance is None:
            return Reply(410, {})
        holder.append(instance)
        _check_ids(instance, service_id, plan_id)
        running = selectors.running_operation(instance, selectors.INSTANCE_KINDS)
        if running is not None and running.kind == "instance.deprovision":
            if not accepts_incomplete:
                raise _async_required()
            return _accepted(running)
        if running is not None:
            raise _concurrency("Another operation for this Service Instance is in progress.")
        if not accepts_incomplete:
            raise _async_required()
        if instance.bindings.exclude(state=Binding.State.DELETED).exists():
            raise _error(422, "The Service Instance still has Service Bindings; delete them first.")
        try:
            op = instance_services.deprovision_instance(actor=caller.actor, instance=instance, via="osb")
        except (ValidationError, PermissionDenied, Http404) as exc:
            raise _service_error(exc, {"instance"}) from exc
        _record(caller, "osb.deprovision", instance, instance_id=instance_id)
    return _accepted(op)


def _failure_flags(op: Operation, target: Instance | Binding) -> dict[str, bool]:
    """Spec, last_operation body: ``instance_usable`` — "If an update or deprovisioning operation failed,
    this flag indicates whether or not the Service Instance is still usable [...] MUST NOT be present for
    errors of other operations"; ``update_repeatable`` — "If an update operation failed, this flag
    indicates whether this update can be repeated or not".

    Servicebay marks the instance failed when an operation on it fails, so it is usable only if a later
    operation brought it back. A failure that used up its retries was transient (repeating may succeed);
    one that gave up at once (``OperationFailed``: e.g. the template rejected the values) will fail again."""
    if not isinstance(target, Instance) or op.kind not in ("instance.update", "instance.deprovision"):
        return {}
    target.refresh_from_db(fields=["state"])
    flags = {"instance_usable": target.state == Instance.State.READY}
    if op.kind == "instance.update":
        flags["update_repeatable"] = op.attempts >= op.max_attempts
    return flags


def _last_operation_reply(op: Operation | None, fallback: Instance | Binding) -> Reply:
    if op is None:  # nothing ever ran (cannot happen for OSB-made objects): report the object's state
        return Reply(200, os_.last_operation_body(OperationState.SUCCEEDED, fallback.get_state_display()))
    if op.state in selectors.RUNNING:
        retry = str(getattr(settings, "OSB_RETRY_AFTER_SECONDS", 2))
        return Reply(
            200, os_.last_operation_body(OperationState.IN_PROGRESS, selectors.last_step(op)), {"Retry-After": retry}
        )
    if op.state == Operation.State.SUCCEEDED:
        return Reply(200, os_.last_operation_body(OperationState.SUCCEEDED, selectors.last_step(op)))
    return Reply(
        200,
        os_.last_operation_body(
            OperationState.FAILED, op.error or op.get_state_display(), **_failure_flags(op, fallback)
        ),
    )


def _poll(
    instance, target, service_id: str | None, operation: str | None, kinds: tuple, deleted: bool, noun: str
) -> Reply:
    """A last_operation poll of ``target`` (the instance or one of its bindings): 410 once it is gone,
    unless the poll asks for the operation that deleted it."""
    if target is None:
        return Reply(410, {})
    if service_id is not None and service_id != selectors.offering_id(instance.type):
        raise bad_request("service_id is not the Service Offering of this Service Instance.")
    op = selectors.find_operation(target, kinds, operation)
    if operation is not None and op is None:
        raise bad_request(f"operation is not an operation of this {noun}.")
    if deleted and (operation is None or op.kind != kinds[-1]):  # kinds[-1]: the kind that deletes it
        return Reply(410, {})
    return _last_operation_reply(op, target)


def last_operation(caller: Caller, instance_id: str, service_id: str | None, operation: str | None) -> Reply:
    instance = selectors.latest_instance(caller.platform, instance_id)
    deleted = instance is not None and instance.state == Instance.State.DEPROVISIONED
    return _poll(instance, instance, service_id, operation, selectors.INSTANCE_KINDS, deleted, "Service Instance")


def fetch_instance(
    caller: Caller, instance_id: str, service_id: str | None = None, plan_id: str | None = None
) -> Reply:
    """Spec, "Fetching a Service Instance": 404 "if the Service Instance does not exist or if a provisioning
    operation is still in progress" (or failed: it never came to exist), 422 ``ConcurrencyError`` "if the
    Service Instance is being updated"; ``service_id``/``plan_id`` are hints ("If present, MUST be a
    non-empty string"), checked by the view."""
    instance = selectors.live_instance(caller.platform, instance_id)
    if instance is None or instance.state == Instance.State.PROVISIONING or _never_provisioned(instance):
        raise _error(404, "This broker has no (fully provisioned) Service Instance with this id.")
    if instance.state == Instance.State.UPDATING:
        raise _concurrency("The Service Instance is being updated.")
    return Reply(
        200,
        {
            "service_id": selectors.offering_id(instance.type),
            "plan_id": selectors.plan_id(instance.type, instance.plan),
            "dashboard_url": _dashboard_url(instance),
            "parameters": instance.parameters or {},  # secret (writeOnly) parameters are never returned
            "maintenance_info": {"version": instance.version.version},
            "metadata": {"labels": {}, "attributes": {"servicebay_instance": instance.name}},
        },
    )


def _never_provisioned(instance: Instance) -> bool:
    """A failed instance whose provisioning never succeeded does not exist for the platform."""
    if instance.state != Instance.State.FAILED:
        return False
    return (
        not selectors.operations_of(instance, ("instance.provision",)).filter(state=Operation.State.SUCCEEDED).exists()
    )


# --- bindings -------------------------------------------------------------------------------------


def _binding_name(caller: Caller, binding_id: str) -> str:
    return "osb-" + hashlib.sha256(f"{caller.platform.pk}:{binding_id}".encode()).hexdigest()[:16]


def _credentials(binding: Binding) -> dict[str, Any]:
    return (json.loads(binding.credentials) if binding.credentials else {}).get("credentials", {})


def _bind_result(binding: Binding, status: int) -> Reply:
    return Reply(status, {"credentials": _credentials(binding)})


def _wait_done(op_id, timeout: float = 15.0) -> Operation:
    """Run a quick operation here and now (a synchronous OSB request); a worker may have taken it."""
    operations.execute(op_id)
    deadline = time.monotonic() + timeout
    op = Operation.objects.get(pk=op_id)
    while not op.is_terminal and time.monotonic() < deadline:
        time.sleep(0.1)
        op.refresh_from_db()
    return op


def bind(
    caller: Caller, instance_id: str, binding_id: str, request: os_.BindRequest, accepts_incomplete: bool
) -> Reply:
    fingerprint = os_.digest(request.attributes())
    with transaction.atomic():
        _lock(caller, instance_id)
        instance = selectors.live_instance(caller.platform, instance_id)
        if instance is None:
            raise _error(404, "This broker has no Service Instance with this id.")
        if request.service_id != selectors.offering_id(instance.type):
            raise bad_request("service_id is not the Service Offering of this Service Instance.")
        if request.plan_id != selectors.plan_id(instance.type, instance.plan):
            raise bad_request("plan_id is not the Service Plan of this Service Instance.")
        existing = selectors.live_binding(instance, binding_id)
        if existing is not None:
            return _bind_again(existing, fingerprint, accepts_incomplete)
        if not instance.version.binding_template:
            raise bad_request(f"{instance.type.slug} is not bindable (its version has no binding template).")
        if request.parameters:
            raise bad_request("parameters: this Service Offering takes no binding parameters.")
        if selectors.running_operation(instance, selectors.INSTANCE_KINDS) or instance.state != Instance.State.READY:
            raise _concurrency(
                f"The Service Instance is {instance.get_state_display().lower()}; bind once it is ready."
            )
        try:
            binding, op = instance_services.bind_for_platform(
                actor=caller.actor,
                instance=instance,
                name=_binding_name(caller, binding_id),
                osb={
                    "platform": caller.platform,
                    "osb_binding_id": binding_id,
                    "osb_context": {**request.context, **({"app_guid": request.app_guid} if request.app_guid else {})},
                    "osb_request_digest": fingerprint,
                },
            )
        except (ValidationError, PermissionDenied, Http404) as exc:
            raise _service_error(exc, {"instance", "binding"}) from exc
        _record(caller, "osb.bind", binding, instance_id=instance_id, binding_id=binding_id, app_guid=request.app_guid)
    if accepts_incomplete:
        return _accepted(op)
    done = _wait_done(op.pk)
    if done.state != Operation.State.SUCCEEDED:
        raise _error(500, f"The binding failed: {done.error or 'it did not finish in time'}")
    binding.refresh_from_db()
    return _bind_result(binding, 201)


def _bind_again(binding: Binding, fingerprint: str, accepts_incomplete: bool) -> Reply:
    if binding.osb_request_digest != fingerprint:
        raise _error(409, "A Service Binding with this id already exists with different parameters.")
    if binding.state == Binding.State.READY:
        return _bind_result(binding, 200)
    running = selectors.running_operation(binding, ("binding.create",))
    if binding.state == Binding.State.CREATING and running is not None and accepts_incomplete:
        return _accepted(running)
    if binding.state == Binding.State.FAILED:
        raise _error(422, f"The Service Binding failed: {binding.status_message or 'no reason'}; delete it.")
    raise _concurrency("Another operation for this Service Binding is in progress.")


def unbind(
    caller: Caller,
    instance_id: str,
    binding_id: str,
    service_id: str | None,
    plan_id: str | None,
    accepts_incomplete: bool,
) -> Reply:
    if not service_id or not plan_id:
        raise bad_request("The query parameters service_id and plan_id are required.")
    with transaction.atomic():
        _lock(caller, instance_id)
        instance = selectors.live_instance(caller.platform, instance_id)
        binding = selectors.live_binding(instance, binding_id) if instance is not None else None
        if binding is None:
            return Reply(410, {})
        _check_ids(instance, service_id, plan_id)
        running = selectors.running_operation(binding, selectors.BINDING_KINDS)
        if running is not None and running.kind == "binding.delete":
            if not accepts_incomplete:
                raise _concurrency("The Service Binding is being deleted.")
            return _accepted(running)
        if running is not None or binding.state == Binding.State.CREATING:
            raise _concurrency("The Service Binding is being created; delete it once that has finished.")
        try:
            op = instance_services.unbind(actor=caller.actor, binding=binding, via="osb")
        except (ValidationError, PermissionDenied, Http404) as exc:
            raise _service_error(exc, {"binding"}) from exc
        _record(caller, "osb.unbind", binding, instance_id=instance_id, binding_id=binding_id)
    if accepts_incomplete:
        return _accepted(op)
    done = _wait_done(op.pk)
    if done.state != Operation.State.SUCCEEDED:
        raise _error(500, f"The unbinding failed: {done.error or 'it did not finish in time'}")
    return Reply(200, {})


def binding_last_operation(
    caller: Caller, instance_id: str, binding_id: str, service_id: str | None, operation: str | None
) -> Reply:
    instance = selectors.latest_instance(caller.platform, instance_id)
    binding = selectors.latest_binding(instance, binding_id) if instance is not None else None
    deleted = binding is not None and binding.state == Binding.State.DELETED
    return _poll(instance, binding, service_id, operation, selectors.BINDING_KINDS, deleted, "Service Binding")


def fetch_binding(
    caller: Caller, instance_id: str, binding_id: str, service_id: str | None = None, plan_id: str | None = None
) -> Reply:
    """The credentials, to the platform that made the binding only (every lookup is scoped to it)."""
    instance = selectors.live_instance(caller.platform, instance_id)
    binding = selectors.live_binding(instance, binding_id) if instance is not None else None
    if binding is None or binding.state != Binding.State.READY:
        raise _error(404, "This broker has no (fully created) Service Binding with this id.")
    return Reply(200, {"credentials": _credentials(binding), "parameters": {}})
