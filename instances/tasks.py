"""Celery tasks of the instances app: thin, load by id and call a service."""

from __future__ import annotations

from celery import shared_task

from instances import services
from instances.models import Cluster


@shared_task(name="instances.tasks.check_clusters")
def check_clusters() -> int:
    """Refresh every cluster's health (beat); each check has the client's timeouts."""
    clusters = list(Cluster.objects.all())
    for cluster in clusters:
        services.record_health(cluster)
    return len(clusters)
