"""servicebinding.io projection into a real Deployment on the local API server."""

from __future__ import annotations

import base64

from instances.projection import AppRef, project, secret_object, unproject


def deployment(name: str, namespace: str, containers=("app", "sidecar")) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": c, "image": "example/chat:1"} for c in containers]},
            },
        },
    }


def pod_spec(kube, ns, name="chat") -> dict:
    return kube.get("apps/v1", "Deployment", name, ns)["spec"]["template"]["spec"]


def test_project_two_bindings_then_unproject_one(kube, kube_namespace):
    kube.apply(deployment("chat", kube_namespace), field_manager="kubectl-client-side-apply")
    app = AppRef.parse("deployment/chat", kube_namespace)
    kube.apply(
        secret_object(
            name="chat-rabbit",
            namespace=kube_namespace,
            credentials={"uri": "amqp://x"},
            binding_type="rabbitmq",
            provider="servicebay",
            labels={"a": "b"},
        )
    )
    project(kube, app, binding_id="11111111-aaaa", binding_name="rabbit", secret_name="chat-rabbit")
    project(kube, app, binding_id="22222222-bbbb", binding_name="db", secret_name="chat-db")
    spec = pod_spec(kube, kube_namespace)
    assert {v["name"]: v["secret"]["secretName"] for v in spec["volumes"]} == {
        "sb-rabbit": "chat-rabbit",
        "sb-db": "chat-db",
    }
    for container in spec["containers"]:
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert mounts == {"/bindings/rabbit", "/bindings/db"}
        assert {"name": "SERVICE_BINDING_ROOT", "value": "/bindings"} in container["env"]
    # Projecting again changes nothing (the spec's generation stays; status may still move).
    before = kube.get("apps/v1", "Deployment", "chat", kube_namespace)["metadata"]["generation"]
    project(kube, app, binding_id="11111111-aaaa", binding_name="rabbit", secret_name="chat-rabbit")
    assert kube.get("apps/v1", "Deployment", "chat", kube_namespace)["metadata"]["generation"] == before

    unproject(kube, app, binding_id="11111111-aaaa")
    spec = pod_spec(kube, kube_namespace)
    assert [v["name"] for v in spec["volumes"]] == ["sb-db"]
    for container in spec["containers"]:
        assert [m["mountPath"] for m in container["volumeMounts"]] == ["/bindings/db"]
        assert {"name": "SERVICE_BINDING_ROOT", "value": "/bindings"} in container["env"]
        assert container["image"] == "example/chat:1"  # the app owner's fields are untouched
    unproject(kube, app, binding_id="22222222-bbbb")
    spec = pod_spec(kube, kube_namespace)
    assert "volumes" not in spec and all("env" not in c and "volumeMounts" not in c for c in spec["containers"])


def test_secret_keys_follow_the_spec(kube, kube_namespace):
    stored = kube.apply(
        secret_object(
            name="s",
            namespace=kube_namespace,
            credentials={"host": "h", "port": 5432},
            binding_type="postgresql",
            provider="servicebay",
            labels={},
        )
    )[0]
    assert stored["type"] == "servicebinding.io/postgresql"
    data = {k: base64.b64decode(v).decode() for k, v in stored["data"].items()}
    assert data == {"host": "h", "port": "5432", "type": "postgresql", "provider": "servicebay"}


def test_existing_root_is_respected_and_missing_app_is_fine(kube, kube_namespace):
    dep = deployment("api", kube_namespace, containers=("app",))
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "SERVICE_BINDING_ROOT", "value": "/etc/sb"}]
    kube.apply(dep, field_manager="helm")
    app = AppRef("Deployment", "api", kube_namespace)
    project(kube, app, binding_id="33333333", binding_name="cache", secret_name="api-cache")
    container = pod_spec(kube, kube_namespace, "api")["containers"][0]
    assert container["volumeMounts"][0]["mountPath"] == "/etc/sb/cache"
    unproject(kube, AppRef("Deployment", "gone", kube_namespace), binding_id="33333333")


def test_app_ref_parsing():
    import pytest

    assert AppRef.parse("deployment/chat", "ns") == AppRef("Deployment", "chat", "ns")
    assert AppRef.parse("StatefulSet/db", "ns").kind == "StatefulSet"
    for bad in ("chat", "pod/chat", "deployment/"):
        with pytest.raises(ValueError, match="deployment/NAME"):
            AppRef.parse(bad, "ns")
