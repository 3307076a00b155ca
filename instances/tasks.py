"""Celery tasks of the instances app: thin, load by id and call a service."""

from __future__ import annotations

from celery import shared_task

from instances import services, status
from instances.models import Cluster


@shared_task(name="instances.tasks.check_clusters")
def check_clusters() -> int:
    """Refresh every cluster's health (beat); each check has the client's timeouts."""
    clusters = list(Cluster.objects.all())
    for cluster in clusters:
        services.record_health(cluster)
    return len(clusters)


@shared_task(name="instances.tasks.refresh_instances")
def refresh_instances() -> dict[str, int]:
    """Live status of every instance: one list per kind and namespace per cluster (beat)."""
    import kube

    totals = {"instances": 0, "lists": 0, "changed": 0}
    for cluster in Cluster.objects.filter(instances__isnull=False).distinct():
        try:
            counts = status.refresh_cluster(cluster)
        except kube.KubeError:
            services.record_health(cluster)
            continue
        for key, value in counts.items():
            totals[key] += value
    return totals
