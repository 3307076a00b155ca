"""Server-side apply against the real API server."""

from __future__ import annotations

import pytest

from kube import FIELD_MANAGER, ApplyConflict, Kube, NotFound, Ref, field_owners, foreign_fields

from .objects import config_map, deployment, service

LIMITS_CPU = "spec.template.spec.containers[name=app].resources.limits.cpu"


def test_apply_twice_changes_nothing(kube: Kube, kube_namespace: str) -> None:
    objects = [deployment("web"), service("web"), config_map("web-config", greeting="hello")]
    first = kube.apply(objects, namespace=kube_namespace)
    assert [o["metadata"]["namespace"] for o in first] == [kube_namespace] * 3
    # Controllers write the Deployment's status: let them finish first.
    kube.wait_ready(Ref("apps/v1", "Deployment", "web", kube_namespace))
    before = {o["kind"]: kube.get(*Ref.of(o))["metadata"]["resourceVersion"] for o in first}

    second = kube.apply(objects, namespace=kube_namespace)

    assert {o["kind"]: o["metadata"]["resourceVersion"] for o in second} == before
    stored = kube.get("v1", "ConfigMap", "web-config", kube_namespace)
    assert stored["metadata"]["resourceVersion"] == first[2]["metadata"]["resourceVersion"]
    assert [e["manager"] for e in stored["metadata"]["managedFields"]] == [FIELD_MANAGER]


def test_apply_custom_resources_from_a_crd_in_the_same_batch(kube: Kube, kube_namespace: str) -> None:
    group = "sbtest.servicebay.io"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
                        }
                    },
                }
            ],
        },
    }
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}}
    # The CR comes first: apply orders CRDs before everything else.
    applied = kube.apply([widget, crd], namespace=kube_namespace)
    rv = applied[0]["metadata"]["resourceVersion"]
    assert kube.apply(widget, namespace=kube_namespace)[0]["metadata"]["resourceVersion"] == rv
    assert kube.get(f"{group}/v1", "Widget", "w1", kube_namespace)["spec"] == {"size": 3}
    kube.delete(crd)
    with pytest.raises(NotFound):
        kube.get(f"{group}/v1", "Widget", "w1", kube_namespace)


def test_apply_gateway_api_route(kube: Kube, kube_namespace: str) -> None:
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web"},
        "spec": {
            "parentRefs": [{"name": "public"}],
            "hostnames": ["shop.example.com"],
            "rules": [{"backendRefs": [{"name": "web", "port": 80}]}],
        },
    }
    [stored] = kube.apply(route, namespace=kube_namespace)
    assert (
        kube.apply(route, namespace=kube_namespace)[0]["metadata"]["resourceVersion"]
        == (stored["metadata"]["resourceVersion"])
    )


def test_field_changed_by_another_manager(kube: Kube, kube_namespace: str) -> None:
    web = deployment("web", replicas=1)
    web["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "100m"}}
    kube.apply(web, namespace=kube_namespace)
    obj = kube.get("apps/v1", "Deployment", "web", kube_namespace)
    assert [o.manager for o in field_owners(obj, "spec.replicas")] == [FIELD_MANAGER]
    assert [(o.manager, o.operation) for o in field_owners(obj, LIMITS_CPU)] == [(FIELD_MANAGER, "Apply")]
    assert foreign_fields(obj) == []

    # Someone edits the Deployment by hand (an Update, as `kubectl edit` does) ...
    kube.patch(obj, {"spec": {"replicas": 3}}, field_manager="kubectl-edit")
    # ... and someone else applies a new CPU limit with their own field manager.
    other = deployment("web")
    other["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "250m"}}
    del other["spec"]["replicas"]
    kube.apply(other, namespace=kube_namespace, field_manager="ops-tool", force=True)

    obj = kube.get("apps/v1", "Deployment", "web", kube_namespace)
    [owner] = field_owners(obj, "spec.replicas")
    assert (owner.manager, owner.operation) == ("kubectl-edit", "Update")
    assert owner.time is not None
    assert [o.manager for o in field_owners(obj, LIMITS_CPU)] == ["ops-tool"]
    image = ("spec", "template", "spec", "containers", {"name": "app"}, "image")
    assert {o.manager for o in field_owners(obj, image)} == {FIELD_MANAGER, "ops-tool"}  # same value: shared
    foreign = {(f.path, f.manager) for f in foreign_fields(obj)}
    assert ("spec.replicas", "kubectl-edit") in foreign
    assert (LIMITS_CPU, "ops-tool") in foreign

    with pytest.raises(ApplyConflict) as err:
        kube.apply(web, namespace=kube_namespace)
    assert err.value.managers == ["kubectl-edit", "ops-tool"]
    assert sorted(err.value.fields) == [
        ".spec.replicas",
        '.spec.template.spec.containers[name="app"].resources.limits.cpu',
    ]
    assert "kubectl-edit" in str(err.value) and "force" in str(err.value)
    assert kube.get("apps/v1", "Deployment", "web", kube_namespace)["spec"]["replicas"] == 3

    [forced] = kube.apply(web, namespace=kube_namespace, force=True)
    assert forced["spec"]["replicas"] == 1
    assert [o.manager for o in field_owners(forced, "spec.replicas")] == [FIELD_MANAGER]
    assert [o.manager for o in field_owners(forced, LIMITS_CPU)] == [FIELD_MANAGER]
    assert forced["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "100m"
