"""delete() waits until objects and their dependents are gone."""

from __future__ import annotations

from kube import Kube, Ref

from .objects import config_map, deployment, service


def test_delete_leaves_nothing_behind(kube: Kube, kube_namespace: str) -> None:
    objects = [deployment("web", replicas=2), service("web"), config_map("web-config")]
    kube.apply(objects, namespace=kube_namespace)
    kube.wait_ready(Ref("apps/v1", "Deployment", "web", kube_namespace), timeout=60)
    assert len(kube.list("v1", "Pod", kube_namespace, label_selector="app=web")) == 2

    kube.delete(objects, namespace=kube_namespace, timeout=60)

    for api_version, kind in [("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"), ("v1", "Pod"), ("v1", "Service")]:
        assert kube.list(api_version, kind, kube_namespace) == [], kind
    left = [c["metadata"]["name"] for c in kube.list("v1", "ConfigMap", kube_namespace)]
    assert [name for name in left if name != "kube-root-ca.crt"] == []  # that one the cluster adds


def test_deleting_what_is_gone_is_fine(kube: Kube, kube_namespace: str) -> None:
    kube.delete(config_map("never-existed"), namespace=kube_namespace)
    kube.delete(Ref("apps/v1", "Deployment", "nope", kube_namespace))
    kube.delete(Ref("sbtest.servicebay.io/v9", "Nothing", "x", kube_namespace))  # unknown kind
