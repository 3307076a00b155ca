"""Operation handlers of the instances app."""

from __future__ import annotations

from instances import services
from instances.models import Cluster
from portal.operations import OperationContext, OperationFailed, handler


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
