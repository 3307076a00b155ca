"""Operation handlers of the catalog app."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from catalog import importer, tracking
from catalog.models import RegisteredService
from portal.operations import OperationContext, OperationFailed, RetryLater, handler


@handler("type.read_cluster", label="Read objects for a new type")
def read_cluster(ctx: OperationContext) -> dict:
    """Read a Service/Deployment/selector (and what goes with it); the result is the import preview."""
    import kube
    from instances.models import Cluster

    cluster = Cluster.objects.get(pk=ctx.operation.target_id)
    params = ctx.params
    what = params.get("service") or params.get("deployment") or params.get("selector")
    ctx.log(f"Reading {what} in {cluster.name}/{params['namespace']}")
    try:
        with cluster.connect() as client:
            source = importer.objects_from_cluster(
                client,
                params["namespace"],
                service=params.get("service", ""),
                deployment=params.get("deployment", ""),
                selector=params.get("selector", ""),
            )
    except ValidationError as exc:
        raise OperationFailed(" ".join(exc.messages)) from exc
    except kube.KubeError as exc:
        raise OperationFailed(f"Cannot read the cluster: {exc}") from exc
    names = ", ".join(f"{o['kind']} {o['metadata']['name']}" for o in source.objects)
    ctx.log(f"Read {names}")
    for note in source.notes:
        ctx.log(note)
    return importer.preview(source)


@handler("service.resolve", label="Address lookup")
def resolve_address(ctx: OperationContext) -> dict:
    """Look a registered Kubernetes service's address up now."""
    service = RegisteredService.objects.select_related("cluster", "org").get(pk=ctx.operation.target_id)
    ctx.log(f"Looking up Service {service.namespace}/{service.service_name} in {service.cluster.name}")
    try:
        address = tracking.resolve(service)
    except tracking.Unreachable as exc:
        raise RetryLater(str(exc)) from exc
    if address.error:
        ctx.log(address.error, "warning")
    else:
        ctx.log(f"Address: {address.host} ports {', '.join(str(p['port']) for p in address.ports)}")
    return {"host": address.host, "ports": address.ports, "error": address.error}
