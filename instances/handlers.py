"""Operation handlers of the instances app."""

from __future__ import annotations

import json

from django.utils import timezone

import kube
from instances import services
from instances.bindings import render_credentials
from instances.engines import BrokerEngine, engine_for
from instances.models import Binding, Cluster, Instance
from instances.projection import AppRef, project, secret_object, unproject
from portal.models import Operation
from portal.operations import OperationContext, OperationFailed, RetryLater, handler


@handler("cluster.check", label="Cluster check")
def check_cluster(ctx: OperationContext) -> dict:
    cluster = Cluster.objects.get(pk=ctx.operation.target_id)
    ctx.log(f"Connecting to {cluster.name} ({cluster.get_access_display().lower()})")
    health = services.record_health(cluster)
    if not health.reachable:
        raise OperationFailed(f"Cannot reach cluster {cluster.name}: {health.error}")
    if health.error:
        raise OperationFailed(f"Cluster {cluster.name} answered with an error: {health.error}")
    ctx.log(f"Reachable; server version {health.version}")
    return {"reachable": True, "server_version": health.version}


# --- instances ----------------------------------------------------------------------------


def _instance(ctx: OperationContext) -> Instance:
    return Instance.objects.select_related("org", "type", "version", "plan", "cluster").get(pk=ctx.operation.target_id)


def _finish_instance(operation: Operation) -> None:
    """Runs in the transaction that records the outcome: the instance's state follows it."""
    instance = Instance.objects.get(pk=operation.target_id)
    now = timezone.now()
    if operation.state == Operation.State.SUCCEEDED:
        if operation.kind == "instance.deprovision":
            Instance.objects.filter(pk=instance.pk).update(
                state=Instance.State.DEPROVISIONED, status_message="", updated_at=now
            )
        else:
            Instance.objects.filter(pk=instance.pk).update(
                state=Instance.State.READY,
                status_message="",
                outputs=operation.result.get("outputs", {}),
                updated_at=now,
            )
    elif operation.state == Operation.State.FAILED:
        Instance.objects.filter(pk=instance.pk).update(
            state=Instance.State.FAILED, status_message=operation.error, updated_at=now
        )


@handler("instance.provision", label="Provisioning", on_finish=_finish_instance, notify_on_success=True)
def provision(ctx: OperationContext) -> dict:
    instance = _instance(ctx)
    if instance.cluster is not None:
        ctx.log(f"Provisioning {instance.name} into {instance.cluster.name}/{instance.namespace}")
    else:
        ctx.log(f"Provisioning {instance.name} at broker {instance.type.broker}")
    return engine_for(instance).provision(ctx, instance)


@handler("instance.update", label="Update", on_finish=_finish_instance, notify_on_success=True)
def update(ctx: OperationContext) -> dict:
    instance = _instance(ctx)
    plan = f" (plan {instance.plan.slug})" if instance.plan else ""
    ctx.log(f"Updating {instance.name}{plan}")
    return engine_for(instance).update(ctx, instance)


@handler("instance.deprovision", label="Deprovisioning", on_finish=_finish_instance, notify_on_success=True)
def deprovision(ctx: OperationContext) -> dict:
    instance = _instance(ctx)
    return engine_for(instance).deprovision(ctx, instance)


# --- bindings -----------------------------------------------------------------------------


def _binding(ctx: OperationContext) -> Binding:
    return Binding.objects.select_related(
        "instance__version",
        "instance__type__broker",
        "instance__plan",
        "instance__org",
        "org",
        "app_cluster",
        "platform",
    ).get(pk=ctx.operation.target_id)


def _finish_binding(operation: Operation) -> None:
    if operation.state == Operation.State.SUCCEEDED:
        state = Binding.State.DELETED if operation.kind == "binding.delete" else Binding.State.READY
        Binding.objects.filter(pk=operation.target_id).update(state=state, status_message="")
    elif operation.state == Operation.State.FAILED:
        Binding.objects.filter(pk=operation.target_id).update(
            state=Binding.State.FAILED, status_message=operation.error
        )


def _app_client(binding: Binding):
    try:
        return binding.app_cluster.connect()
    except kube.KubeError as exc:
        raise OperationFailed(f"The app's cluster cannot be used: {exc}") from exc


def _kube_call(what: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except kube.NotFound as exc:
        raise OperationFailed(f"{what}: {exc.message}") from exc
    except kube.KubeUnreachable as exc:
        raise RetryLater(f"{what}: the cluster did not answer ({exc.message})") from exc
    except kube.KubeError as exc:
        if (exc.status or 0) >= 500:
            raise RetryLater(f"{what}: {exc.message}") from exc
        raise OperationFailed(f"{what}: {exc.message}") from exc


@handler("binding.create", label="Binding", on_finish=_finish_binding, notify_on_success=True)
def create_binding(ctx: OperationContext) -> dict:
    binding = _binding(ctx)
    instance = binding.instance
    stored = json.loads(binding.credentials or "{}")
    if instance.type.source == "broker":
        credentials, details = BrokerEngine().bind(ctx, binding)
        credentials = {
            k: v if isinstance(v, str | int | float | bool) else json.dumps(v) for k, v in credentials.items()
        }
        Binding.objects.filter(pk=binding.pk).update(
            credentials=json.dumps({**stored, "credentials": credentials}), broker_details=details
        )
        ctx.log(f"The broker returned {len(credentials)} credential key(s): {', '.join(sorted(credentials))}")
    else:
        template = instance.version.binding_template or {}
        credentials = render_credentials(
            template,
            instance=instance,
            binding=binding,
            parameters=services.instance_parameters(instance),
            generated=stored.get("generated", {}),
        )
        Binding.objects.filter(pk=binding.pk).update(credentials=json.dumps({**stored, "credentials": credentials}))
        ctx.log(f"Rendered {len(credentials)} credential key(s): {', '.join(sorted(credentials))}")
    if not binding.app_kind:  # a binding for another platform (OSB): it fetches the credentials itself
        ctx.log(f"Credentials ready for platform {binding.platform}; no app to deliver them to here")
        return {"platform": str(binding.platform)}
    app = AppRef(binding.app_kind, binding.app_name, binding.app_namespace)
    secret = secret_object(
        name=binding.secret_name,
        namespace=binding.app_namespace,
        credentials=credentials,
        binding_type=str(credentials.get("type") or instance.type.slug),
        provider=str(credentials.get("provider") or "servicebay"),
        labels={
            "app.kubernetes.io/managed-by": "servicebay",
            "servicebay.io/binding": str(binding.pk),
            "servicebay.io/instance": str(instance.pk),
        },
    )
    with _app_client(binding) as client:
        _kube_call(f"Cannot find {app}", client.get, app.api_version, app.kind, app.name, app.namespace)
        _kube_call("Cannot write the binding Secret", client.apply, secret)
        ctx.log(f"Wrote Secret {binding.secret_name} in {binding.app_namespace}")
        _kube_call(
            f"Cannot project into {app}",
            project,
            client,
            app,
            binding_id=str(binding.pk),
            binding_name=binding.name,
            secret_name=binding.secret_name,
        )
    ctx.log(f"Projected into {app} at $SERVICE_BINDING_ROOT/{binding.name}")
    return {"secret": binding.secret_name, "app": str(app)}


@handler("binding.delete", label="Unbinding", on_finish=_finish_binding)
def delete_binding(ctx: OperationContext) -> dict:
    binding = _binding(ctx)
    if not binding.app_kind:  # a binding for another platform (OSB): forgetting the credentials revokes them
        Binding.objects.filter(pk=binding.pk).update(credentials="")
        ctx.log(f"Forgot the credentials of platform {binding.platform}'s binding")
        return {}
    app = AppRef(binding.app_kind, binding.app_name, binding.app_namespace)
    with _app_client(binding) as client:
        _kube_call(f"Cannot remove the projection from {app}", unproject, client, app, binding_id=str(binding.pk))
        ctx.log(f"Removed the projection from {app}")
        secret = kube.Ref("v1", "Secret", binding.secret_name, binding.app_namespace)
        _kube_call("Cannot delete the binding Secret", client.delete, secret, wait=True, timeout=60)
    ctx.log(f"Deleted Secret {binding.secret_name}")
    if binding.instance.type.source == "broker":
        BrokerEngine().unbind(ctx, binding)
    return {}
