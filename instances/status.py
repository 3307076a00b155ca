"""Live status of instances: one list per kind and namespace per cluster, never a GET per instance.

Run periodically (beat) and on demand. For each ready instance it records whether its objects
are all ready, why not, and its current outputs (so an address that moves is tracked).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils import timezone

import kube
from instances.engines.template import INSTANCE_LABEL
from instances.models import Cluster, Instance


def refresh_cluster(cluster: Cluster) -> dict[str, int]:
    """Refresh every live instance of one cluster; returns counts (instances, list calls, changed)."""
    instances = list(
        Instance.objects.filter(
            cluster=cluster, state__in=[Instance.State.READY, Instance.State.FAILED]
        ).select_related("type", "version", "org")
    )
    if not instances:
        return {"instances": 0, "lists": 0, "changed": 0}
    groups: set[tuple[str, str, str]] = set()
    for instance in instances:
        for ref in instance.resources or []:
            groups.add((ref["apiVersion"], ref["kind"], ref["namespace"]))
    live: dict[str, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    with cluster.connect() as client:
        for api_version, kind, namespace in sorted(groups):
            for obj in client.list(api_version, kind, namespace, label_selector=INSTANCE_LABEL):
                owner = obj["metadata"].get("labels", {}).get(INSTANCE_LABEL)
                live[owner][(kind, obj["metadata"]["name"])] = obj
    from instances.engines.template import TemplateEngine

    changed = 0
    now = timezone.now()
    for instance in instances:
        objects = live.get(str(instance.pk), {})
        problems = []
        for ref in instance.resources or []:
            obj = objects.get((ref["kind"], ref["name"]))
            status = kube.readiness(obj) if obj else kube.Readiness(False, "missing from the cluster")
            if not status.ready:
                problems.append(f"{ref['kind']}/{ref['name']}: {status.reason}")
        healthy = not problems
        outputs = TemplateEngine()._outputs(instance, objects) if healthy else instance.outputs
        message = "; ".join(problems)
        if (healthy, message, outputs) != (instance.healthy, instance.health_message, instance.outputs):
            Instance.objects.filter(pk=instance.pk).update(
                healthy=healthy, health_message=message, outputs=outputs, health_checked_at=now
            )
            changed += 1
        else:
            Instance.objects.filter(pk=instance.pk).update(health_checked_at=now)
    return {"instances": len(instances), "lists": len(groups), "changed": changed}
