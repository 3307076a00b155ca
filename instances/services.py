"""Every write of the instances app: one transaction each, audited, enqueuing operations on commit."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

import kube
from instances.models import Cluster
from portal import audit, operations
from portal.access import require_role
from portal.models import Operation, Organization, Role


def _validate_access(access: str, kubeconfig: str, context: str) -> None:
    if access == Cluster.Access.IN_CLUSTER:
        return
    if not kubeconfig.strip():
        raise ValidationError({"kubeconfig": "Paste a kubeconfig, or choose in-cluster access."})
    try:
        kube.connect(kubeconfig, context=context or None).close()
    except kube.KubeError as exc:
        raise ValidationError({"kubeconfig": str(exc)}) from exc


def register_cluster(
    *,
    actor,
    org: Organization,
    name: str,
    kubeconfig: str = "",
    access: str = Cluster.Access.KUBECONFIG,
    context: str = "",
    default_namespace: str = "default",
    description: str = "",
    via: str = "ui",
) -> tuple[Cluster, Operation]:
    """Register a cluster (org admins) and start a health check of it."""
    require_role(actor, org, Role.ADMIN)
    _validate_access(access, kubeconfig, context)
    cluster = Cluster(
        org=org,
        name=name,
        kubeconfig=kubeconfig if access == Cluster.Access.KUBECONFIG else "",
        access=access,
        context=context,
        default_namespace=default_namespace or "default",
        description=description,
        created_by=actor,
    )
    cluster.full_clean(validate_constraints=False)
    with transaction.atomic():
        try:
            with transaction.atomic():
                cluster.save()
        except IntegrityError as exc:
            raise ValidationError({"name": f"{org.name} already has a cluster called {name!r}."}) from exc
        audit.record(
            actor=actor,
            action="cluster.register",
            org=org,
            target=cluster,
            changes={"name": name, "access": access, "context": context},
            via=via,
        )
        op = operations.start_operation(
            org=org, kind="cluster.check", target=cluster, requested_by=actor, max_attempts=1
        )
    return cluster, op


def check_cluster(*, actor, cluster: Cluster, via: str = "ui") -> Operation:
    require_role(actor, cluster.org, Role.DEVELOPER)
    with transaction.atomic():
        op = operations.start_operation(
            org=cluster.org, kind="cluster.check", target=cluster, requested_by=actor, max_attempts=1
        )
        audit.record(actor=actor, action="cluster.check", org=cluster.org, target=cluster, via=via)
    return op


@transaction.atomic
def remove_cluster(*, actor, cluster: Cluster, via: str = "ui") -> None:
    require_role(actor, cluster.org, Role.ADMIN)
    audit.record(actor=actor, action="cluster.remove", org=cluster.org, target=cluster, via=via)
    cluster.delete()


def record_health(cluster: Cluster) -> kube.Health:
    """Ask the cluster how it is and store the answer (one conditional UPDATE, no race)."""
    try:
        client = cluster.connect()
    except kube.KubeError as exc:
        health = kube.Health(False, None, str(exc))
    else:
        with client:
            health = client.health()
    Cluster.objects.filter(pk=cluster.pk).update(
        reachable=health.reachable,
        server_version=health.version or "",
        last_error=health.error or "",
        checked_at=timezone.now(),
    )
    return health
