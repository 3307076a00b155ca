"""The broker engine: instances of broker types (catalog source=broker) live at an Open Service Broker.

Every call goes through ``osb.BrokerClient`` with ``accepts_incomplete=true``; asynchronous operations
are polled with ``ctx.sleep`` (so the operation keeps heartbeating) and the broker's ``Retry-After``.

* ``ConcurrencyError`` (422: another operation on the instance is running) → ``RetryLater``;
* ``MaintenanceInfoConflict`` (422: our catalog is stale) → the broker is resynced and the operation
  fails with a message saying so (run it again with the fresh plan);
* a failure ``osb.needs_orphan_mitigation`` says may have left something behind → a DELETE
  (deprovision / unbind) before failing; on deprovision a 410 means "already gone", a success.

Broker instances have no cluster; the id sent to the broker is the instance's (and binding's) UUID.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import osb
from osb import errors as oe
from portal.operations import OperationContext, OperationFailed, RetryLater

ORG_NAMESPACE = uuid.UUID("8c0f3e0a-5b8e-4d3e-9b6a-2f1e7d9c4a10")


def org_guid(org) -> str:
    return str(uuid.uuid5(ORG_NAMESPACE, f"org:{org.pk}"))


def broker_context(org, namespace: str = "") -> dict[str, Any]:
    context = {"platform": "servicebay", "organization_guid": org_guid(org), "organization_name": org.slug}
    if namespace:
        context["namespace"] = namespace
    return context


def identity(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"user_id": str(user.pk), "username": user.get_username()}


def requester(ctx: OperationContext):
    return ctx.operation.requested_by if ctx.operation.requested_by_id else None


def _ids(instance) -> tuple[str, str]:
    if not instance.type.broker_service_id or instance.plan is None or not instance.plan.broker_plan_id:
        raise OperationFailed(f"{instance.type.slug} is not a broker offering with a plan; nothing to ask the broker.")
    return instance.type.broker_service_id, instance.plan.broker_plan_id


def _broker(instance):
    broker = instance.type.broker
    if broker is None:
        raise OperationFailed(f"The broker of {instance.type.slug} was removed; the instance cannot be managed.")
    return broker


def _poll_timeout(instance) -> float:
    """How long to poll: ``BROKER_POLL_SECONDS``, or less when the plan's ``maximum_polling_duration`` says so
    (recorded on the plan by the catalog sync)."""
    from django.conf import settings

    limit = float(getattr(settings, "BROKER_POLL_SECONDS", 3600))
    plan_max = instance.plan.maximum_polling_duration if instance.plan is not None else None
    return min(limit, float(plan_max)) if plan_max else limit


def _digest(parameters: dict[str, Any]) -> str:
    """A fingerprint of the parameters sent (the values may hold secrets; the digest does not)."""
    return hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()


def _previous(instance) -> dict[str, Any]:
    """The result of the instance's last successful provision or update (what the broker has)."""
    from django.contrib.contenttypes.models import ContentType

    from portal.models import Operation

    op = (
        Operation.objects.filter(
            target_type=ContentType.objects.get_for_model(type(instance)),
            target_id=str(instance.pk),
            kind__in=["instance.provision", "instance.update"],
            state=Operation.State.SUCCEEDED,
        )
        .order_by("-finished_at")
        .first()
    )
    return op.result if op else {}


def _transient(exc: Exception) -> bool:
    return isinstance(exc, oe.BrokerUnreachable | oe.ConcurrencyError) or (
        isinstance(exc, oe.BrokerError) and (exc.status or 0) >= 500
    )


def _resync_and_fail(broker, exc) -> OperationFailed:
    from catalog.brokers import sync_broker

    try:
        sync_broker(broker)
        note = "The catalog was resynced; run the operation again with the current plan."
    except oe.OSBError as sync_exc:
        note = f"Resyncing the catalog failed too: {sync_exc}"
    return OperationFailed(
        f"The broker refused: the plan's maintenance_info is out of date ({exc.description or exc}). {note}"
    )


def _logger(ctx: OperationContext):
    last = {"text": None}

    def on_poll(result) -> None:
        text = f"Broker: {result.state.value}" + (f" — {result.description}" if result.description else "")
        if text != last["text"]:
            ctx.log(text)
            last["text"] = text

    return on_poll


class BrokerEngine:
    def render(self, instance, parameters: dict[str, Any] | None = None, version=None) -> list[dict[str, Any]]:
        """Broker instances have no manifests: an update preview shows no manifest diff."""
        return []

    # -- provision ---------------------------------------------------------------------

    def provision(self, ctx: OperationContext, instance) -> dict[str, Any]:
        from instances.services import instance_parameters

        broker = _broker(instance)
        service_id, plan_id = _ids(instance)
        ctx.log(f"Asking broker {broker.name} for {instance.type.broker_service_id} plan {instance.plan.slug}")
        parameters = instance_parameters(instance)
        with broker.client() as client:
            try:
                reply = client.provision(
                    str(instance.pk),
                    service_id=service_id,
                    plan_id=plan_id,
                    context=broker_context(instance.org, instance.namespace),
                    parameters=parameters or None,
                    maintenance_info=instance.plan.maintenance_info or None,
                    identity=identity(requester(ctx)),
                )
            except oe.MaintenanceInfoConflict as exc:
                raise _resync_and_fail(broker, exc) from exc
            except oe.OSBError as exc:
                self._mitigate(ctx, client, instance, "provision", exc)
                if _transient(exc):
                    raise RetryLater(f"The broker did not provision now: {exc}") from exc
                raise OperationFailed(f"The broker refused to provision: {exc}") from exc
            if reply.accepted:
                ctx.log("The broker is provisioning asynchronously; polling last_operation")
                self._wait(ctx, client, instance, "provision", reply.operation, service_id, plan_id)
            ctx.log("Provisioned at the broker")
        return {
            "outputs": {"dashboard_url": reply.dashboard_url} if reply.dashboard_url else {},
            "resources": [],
            "broker_plan_id": plan_id,
            "parameters_digest": _digest(parameters),
        }

    # -- update ------------------------------------------------------------------------

    def update(self, ctx: OperationContext, instance) -> dict[str, Any]:
        from instances.services import instance_parameters

        broker = _broker(instance)
        service_id, plan_id = _ids(instance)
        ctx.log(f"Asking broker {broker.name} to update to plan {instance.plan.slug}")
        parameters = instance_parameters(instance)
        previous = _previous(instance)
        changed = previous.get("parameters_digest") != _digest(parameters)  # send only what changed
        previous_plan = previous.get("broker_plan_id")
        with broker.client() as client:
            try:
                reply = client.update(
                    str(instance.pk),
                    service_id=service_id,
                    plan_id=plan_id,
                    context=broker_context(instance.org, instance.namespace),
                    previous_values={"plan_id": previous_plan} if previous_plan else None,
                    parameters=parameters if changed and parameters else None,
                    maintenance_info=instance.plan.maintenance_info or None,
                    identity=identity(requester(ctx)),
                )
            except oe.MaintenanceInfoConflict as exc:
                raise _resync_and_fail(broker, exc) from exc
            except oe.OSBError as exc:
                if _transient(exc):
                    raise RetryLater(f"The broker did not update now: {exc}") from exc
                raise OperationFailed(f"The broker refused the update: {exc}") from exc
            if reply.accepted:
                ctx.log("The broker is updating asynchronously; polling last_operation")
                self._wait(ctx, client, instance, "update", reply.operation, service_id, previous_plan)
            ctx.log("Updated at the broker")
        return {
            "outputs": dict(instance.outputs or {}),
            "resources": [],
            "broker_plan_id": plan_id,
            "parameters_digest": _digest(parameters),
        }

    # -- deprovision -------------------------------------------------------------------

    def deprovision(self, ctx: OperationContext, instance) -> dict[str, Any]:
        broker = _broker(instance)
        service_id, plan_id = _ids(instance)
        ctx.log(f"Asking broker {broker.name} to deprovision")
        with broker.client() as client:
            self._delete(ctx, client, instance, service_id, plan_id)
        ctx.log("Deprovisioned at the broker")
        return {"deleted": []}

    def _delete(self, ctx, client, instance, service_id: str, plan_id: str) -> None:
        try:
            reply = client.deprovision(
                str(instance.pk), service_id=service_id, plan_id=plan_id, identity=identity(requester(ctx))
            )
        except oe.OSBError as exc:
            if _transient(exc) or isinstance(exc, oe.NoResponse):
                raise RetryLater(f"The broker did not deprovision now: {exc}") from exc
            raise OperationFailed(f"The broker refused to deprovision: {exc}") from exc
        if reply.gone:
            ctx.log("The broker no longer has the instance (410): nothing to delete")
            return
        if reply.accepted:
            ctx.log("The broker is deprovisioning asynchronously; polling last_operation")
            self._wait(ctx, client, instance, "deprovision", reply.operation, service_id, plan_id)

    # -- polling and orphan mitigation ---------------------------------------------------

    def _wait(self, ctx, client, instance, request: str, operation, service_id, plan_id) -> None:
        try:
            result = client.poll_last_operation(
                str(instance.pk),
                service_id=service_id,
                plan_id=plan_id,
                operation=operation,
                deleting=request == "deprovision",
                max_duration=_poll_timeout(instance),
                interval=1.0,
                sleep=ctx.sleep,
                on_poll=_logger(ctx),
            )
        except oe.OSBError as exc:
            self._mitigate(ctx, client, instance, request, exc)
            raise OperationFailed(f"The broker's {request} did not finish: {exc}") from exc
        if result.failed:
            if osb.needs_orphan_mitigation(request, state="failed"):
                self._mitigate(ctx, client, instance, request, None, force=True)
            raise OperationFailed(f"The broker's {request} failed: {result.description or 'no reason given'}")

    def _mitigate(self, ctx, client, instance, request: str, exc, force: bool = False) -> None:
        """Delete what a failed create may have left at the broker (the spec's orphan mitigation)."""
        if request != "provision" or not (force or osb.needs_orphan_mitigation(request, error=exc)):
            return
        service_id, plan_id = _ids(instance)
        ctx.log("Orphan mitigation: asking the broker to delete what the failed provision may have left", "warning")
        try:
            reply = client.deprovision(str(instance.pk), service_id=service_id, plan_id=plan_id)
            if reply.accepted:
                client.poll_last_operation(
                    str(instance.pk),
                    service_id=service_id,
                    plan_id=plan_id,
                    operation=reply.operation,
                    deleting=True,
                    max_duration=_poll_timeout(instance),
                    interval=1.0,
                    sleep=ctx.sleep,
                )
        except oe.OSBError as mitigation_exc:
            ctx.log(f"Orphan mitigation did not finish: {mitigation_exc}", "warning")

    # -- bindings ----------------------------------------------------------------------

    def bind(self, ctx: OperationContext, binding) -> tuple[dict[str, Any], dict[str, Any]]:
        """Ask the broker for the binding's credentials → (credentials, other binding details)."""
        instance = binding.instance
        broker = _broker(instance)
        service_id, plan_id = _ids(instance)
        with broker.client() as client:
            try:
                reply = client.bind(
                    str(instance.pk),
                    str(binding.pk),
                    service_id=service_id,
                    plan_id=plan_id,
                    context=broker_context(binding.org, binding.app_namespace),
                    bind_resource={"app_guid": f"{binding.app_kind.lower()}/{binding.app_name}"},
                    identity=identity(requester(ctx)),
                )
            except oe.OSBError as exc:
                self._mitigate_binding(ctx, client, binding, exc)
                if _transient(exc):
                    raise RetryLater(f"The broker did not bind now: {exc}") from exc
                raise OperationFailed(f"The broker refused the binding: {exc}") from exc
            result: Any = reply
            if reply.accepted:
                ctx.log("The broker is binding asynchronously; polling the binding's last_operation")
                try:
                    done = client.poll_binding_last_operation(
                        str(instance.pk),
                        str(binding.pk),
                        service_id=service_id,
                        plan_id=plan_id,
                        operation=reply.operation,
                        max_duration=_poll_timeout(instance),
                        interval=1.0,
                        sleep=ctx.sleep,
                        on_poll=_logger(ctx),
                    )
                    if done.failed:
                        self._mitigate_binding(ctx, client, binding, None, force=True)
                        raise OperationFailed(f"The broker's bind failed: {done.description or 'no reason given'}")
                    result = client.get_binding(
                        str(instance.pk), str(binding.pk), service_id=service_id, plan_id=plan_id
                    )
                except oe.OSBError as exc:
                    self._mitigate_binding(ctx, client, binding, exc)
                    raise OperationFailed(f"The broker's bind did not finish: {exc}") from exc
        details = {
            "volume_mounts": [v.to_json() for v in result.volume_mounts],
            "syslog_drain_url": result.syslog_drain_url,
            "route_service_url": result.route_service_url,
            "endpoints": [e.to_json() for e in result.endpoints],
        }
        return dict(result.credentials), details

    def _mitigate_binding(self, ctx, client, binding, exc, force: bool = False) -> None:
        if not (force or osb.needs_orphan_mitigation("bind", error=exc)):
            return
        ctx.log("Orphan mitigation: asking the broker to delete the half-made binding", "warning")
        try:
            self._unbind_at(client, ctx, binding)
        except oe.OSBError as mitigation_exc:
            ctx.log(f"Orphan mitigation did not finish: {mitigation_exc}", "warning")

    def unbind(self, ctx: OperationContext, binding) -> None:
        instance = binding.instance
        broker = _broker(instance)
        with broker.client() as client:
            try:
                self._unbind_at(client, ctx, binding)
            except oe.OSBError as exc:
                if _transient(exc) or isinstance(exc, oe.NoResponse):
                    raise RetryLater(f"The broker did not unbind now: {exc}") from exc
                raise OperationFailed(f"The broker refused to unbind: {exc}") from exc

    def _unbind_at(self, client, ctx, binding) -> None:
        instance = binding.instance
        service_id, plan_id = _ids(instance)
        reply = client.unbind(
            str(instance.pk), str(binding.pk), service_id=service_id, plan_id=plan_id, identity=identity(requester(ctx))
        )
        if reply.gone:
            ctx.log("The broker no longer has the binding (410)")
        elif reply.accepted:
            client.poll_binding_last_operation(
                str(instance.pk),
                str(binding.pk),
                service_id=service_id,
                plan_id=plan_id,
                operation=reply.operation,
                deleting=True,
                max_duration=_poll_timeout(instance),
                interval=1.0,
                sleep=ctx.sleep,
            )
        ctx.log("Unbound at the broker")
