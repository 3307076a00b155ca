"""readiness() on objects driven by the real controllers and kwok's simulated node."""

from __future__ import annotations

from typing import Any

from kube import Kube, Readiness, Ref, readiness

from .objects import config_map, deployment, service


def test_deployment_becomes_available_through_kwok(kube: Kube, kube_namespace: str) -> None:
    # No node has this label: the pod stays Pending, the Deployment unavailable.
    web = deployment("web", replicas=2, nodeSelector={"servicebay.test/nowhere": "true"})
    [applied] = kube.apply(web, namespace=kube_namespace)
    early = readiness(applied)
    assert not early.ready
    assert early.reason == "waiting for the controller to observe generation 1"

    def current() -> Readiness:
        return readiness(kube.get("apps/v1", "Deployment", "web", kube_namespace))

    state = _until(current, lambda s: "replicas available" in s.reason)
    assert state == Readiness(False, "0 of 2 replicas available")
    pods = kube.list("v1", "Pod", kube_namespace, label_selector="app=web")
    assert len(pods) == 2
    pod_state = readiness(pods[0])
    assert not pod_state.ready and pod_state.reason.startswith("not scheduled: 0/1 nodes are available")

    del web["spec"]["template"]["spec"]["nodeSelector"]
    kube.apply(web, namespace=kube_namespace)
    ready = kube.wait_ready(Ref("apps/v1", "Deployment", "web", kube_namespace), timeout=60)
    assert ready == Readiness(True, "2 of 2 replicas available")
    obj = kube.get("apps/v1", "Deployment", "web", kube_namespace)
    conditions = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert conditions["Available"] == "True"
    pods = kube.list("v1", "Pod", kube_namespace, label_selector="app=web")
    assert {readiness(p) for p in pods} == {Readiness(True, "running and ready")}
    assert {p["spec"]["nodeName"] for p in pods} == {"kwok-node-0"}


def test_statefulset_job_pod_ready(kube: Kube, kube_namespace: str) -> None:
    labels = {"app": "db"}
    pod_spec = {"containers": [{"name": "main", "image": "example.invalid/x:1"}]}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate"},
            "spec": {"template": {"spec": pod_spec | {"restartPolicy": "Never"}}},
        },
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo"}, "spec": pod_spec},
    ]
    kube.apply(objects, namespace=kube_namespace)
    refs = [Ref(o["apiVersion"], o["kind"], o["metadata"]["name"], kube_namespace) for o in objects]
    assert kube.wait_ready(refs[0], timeout=60) == Readiness(True, "2 of 2 replicas ready")
    assert kube.wait_ready(refs[1], timeout=60) == Readiness(True, "completed")
    assert kube.wait_ready(refs[2], timeout=60) == Readiness(True, "running and ready")


def test_service_readiness(kube: Kube, kube_namespace: str) -> None:
    cluster_ip, lb = kube.apply([service("web"), service("edge", "LoadBalancer")], namespace=kube_namespace)
    assert readiness(cluster_ip) == Readiness(True, "ClusterIP service")
    assert readiness(lb) == Readiness(False, "waiting for a load balancer address")
    # Play the cloud provider: publish an address on the status subresource.
    kube.patch(lb, {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}}, subresource="status")
    assert readiness(kube.get("v1", "Service", "edge", kube_namespace)) == Readiness(
        True, "load balancer at 192.0.2.10"
    )


def test_other_kinds_are_ready_when_they_exist(kube: Kube, kube_namespace: str) -> None:
    [cm] = kube.apply(config_map("settings", a="b"), namespace=kube_namespace)
    assert readiness(cm) == Readiness(True, "exists")
    assert readiness(kube.get_or_none("v1", "ConfigMap", "missing", kube_namespace)) == Readiness(
        False, "does not exist"
    )


def _until(get: Any, done: Any, timeout: float = 30) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)
