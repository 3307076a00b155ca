"""Is an object ready? Rules modelled on ``kubectl rollout status`` and kstatus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class Readiness(NamedTuple):
    ready: bool
    reason: str  # why (not) ready, fit for users


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {c.get("type", ""): c for c in (obj.get("status") or {}).get("conditions") or []}


def _generation_observed(obj: Mapping[str, Any]) -> Readiness | None:
    generation = obj.get("metadata", {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if generation is not None and (observed is None or observed < generation):
        return Readiness(False, f"waiting for the controller to observe generation {generation}")
    return None


def _deployment(obj: Mapping[str, Any]) -> Readiness:
    if (r := _generation_observed(obj)) is not None:
        return r
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    progressing = _conditions(obj).get("Progressing", {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Readiness(False, f"rollout stuck: {progressing.get('message', 'progress deadline exceeded')}")
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < want:
        return Readiness(False, f"{updated} of {want} replicas updated")
    if total > updated:
        return Readiness(False, f"{total - updated} old replicas pending termination")
    if available < updated:
        why = _pod_hint(obj)
        return Readiness(False, f"{available} of {want} replicas available" + (f" ({why})" if why else ""))
    if _conditions(obj).get("Available", {}).get("status") == "False":
        return Readiness(False, f"not available: {_conditions(obj)['Available'].get('message', '')}")
    return Readiness(True, f"{available} of {want} replicas available")


def _pod_hint(obj: Mapping[str, Any]) -> str:
    """The message of a failing ReplicaFailure condition, if any."""
    failure = _conditions(obj).get("ReplicaFailure", {})
    return failure.get("message", "") if failure.get("status") == "True" else ""


def _statefulset(obj: Mapping[str, Any]) -> Readiness:
    if (r := _generation_observed(obj)) is not None:
        return r
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if ready < want:
        return Readiness(False, f"{ready} of {want} replicas ready")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
        updated = status.get("updatedReplicas", 0)
        if updated < want - partition:
            return Readiness(False, f"{updated} of {want - partition} replicas updated")
        if partition == 0 and status.get("currentRevision") != status.get("updateRevision"):
            return Readiness(False, "rolling update in progress")
    return Readiness(True, f"{ready} of {want} replicas ready")


def _service(obj: Mapping[str, Any]) -> Readiness:
    kind = (obj.get("spec") or {}).get("type", "ClusterIP")
    if kind != "LoadBalancer":
        return Readiness(True, f"{kind} service")
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if not ingress:
        return Readiness(False, "waiting for a load balancer address")
    address = ingress[0].get("ip") or ingress[0].get("hostname") or "?"
    return Readiness(True, f"load balancer at {address}")


def _job(obj: Mapping[str, Any]) -> Readiness:
    conditions = _conditions(obj)
    for kind in ("Failed", "FailureTarget"):
        c = conditions.get(kind, {})
        if c.get("status") == "True":
            return Readiness(False, f"failed: {c.get('reason', '')} {c.get('message', '')}".strip())
    complete = conditions.get("Complete", {})
    if complete.get("status") == "True":
        return Readiness(True, "completed")
    if (obj.get("spec") or {}).get("suspend"):
        return Readiness(False, "suspended")
    status = obj.get("status") or {}
    return Readiness(
        False,
        f"running: {status.get('active', 0)} active, {status.get('succeeded', 0)} succeeded, "
        f"{status.get('failed', 0)} failed",
    )


def _pod(obj: Mapping[str, Any]) -> Readiness:
    status = obj.get("status") or {}
    phase = status.get("phase", "Pending")
    if phase == "Succeeded":
        return Readiness(True, "completed")
    if phase == "Failed":
        return Readiness(False, f"failed: {status.get('reason') or status.get('message') or 'a container failed'}")
    conditions = _conditions(obj)
    if conditions.get("Ready", {}).get("status") == "True":
        return Readiness(True, "running and ready")
    scheduled = conditions.get("PodScheduled", {})
    if scheduled.get("status") == "False":
        return Readiness(False, f"not scheduled: {scheduled.get('message') or scheduled.get('reason', '')}")
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting:
            return Readiness(False, f"container {cs.get('name')} waiting: {waiting.get('reason', '')}")
    if not (obj.get("spec") or {}).get("nodeName"):
        return Readiness(False, "waiting to be scheduled")
    return Readiness(False, f"{phase.lower()}, not ready yet")


_RULES = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("", "Service"): _service,
    ("batch", "Job"): _job,
    ("", "Pod"): _pod,
}


def readiness(obj: Mapping[str, Any] | None) -> Readiness:
    """Whether ``obj`` (as read from the API, or None when missing) is ready, and why.

    Deployment: all replicas updated and available. StatefulSet: all replicas
    ready and on the update revision. Service: LoadBalancer needs an ingress
    address, other types are ready. Job: completed. Pod: Ready condition (or
    Succeeded). Any other kind is ready if it exists.
    """
    if obj is None:
        return Readiness(False, "does not exist")
    if obj.get("metadata", {}).get("deletionTimestamp"):
        return Readiness(False, "being deleted")
    group = obj.get("apiVersion", "").rpartition("/")[0]
    rule = _RULES.get((group, obj.get("kind", "")))
    if rule is None:
        return Readiness(True, "exists")
    return rule(obj)
