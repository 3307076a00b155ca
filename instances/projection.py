"""Credentials delivered into apps as the servicebinding.io spec says.

* The credentials go into a Secret of type ``servicebinding.io/<type>`` in the app's
  namespace; its keys become files, with ``type`` and ``provider`` among them.
* The app's workload (Deployment or StatefulSet) gets a volume from that Secret mounted at
  ``$SERVICE_BINDING_ROOT/<binding-name>`` in every container (and init container), and the
  ``SERVICE_BINDING_ROOT`` env var on every container.

Each binding applies its part of the workload with its own server-side-apply field manager
(``servicebay-binding-<id>``), so bindings never disturb each other or the app's owner, and
unbinding is one apply of an empty object under the same manager: the API server removes
exactly the fields that binding added.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import kube

SERVICE_BINDING_ROOT = "/bindings"
WORKLOAD_KINDS = {"deployment": ("apps/v1", "Deployment"), "statefulset": ("apps/v1", "StatefulSet")}


@dataclass(frozen=True)
class AppRef:
    kind: str  # Deployment | StatefulSet
    name: str
    namespace: str

    @classmethod
    def parse(cls, text: str, namespace: str) -> AppRef:
        """``deployment/chat`` (or ``statefulset/db``) → AppRef; ValueError with a clear message."""
        kind, sep, name = text.partition("/")
        if not sep or kind.lower() not in WORKLOAD_KINDS or not name:
            raise ValueError("Name the app as deployment/NAME or statefulset/NAME.")
        return cls(WORKLOAD_KINDS[kind.lower()][1], name, namespace)

    @property
    def api_version(self) -> str:
        return "apps/v1"

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name} in {self.namespace}"


def field_manager(binding_id: str) -> str:
    return f"servicebay-binding-{binding_id.replace('-', '')[:12]}"


def _volume_name(binding_name: str) -> str:
    return f"sb-{binding_name}"[:63].rstrip("-")


def secret_object(
    *,
    name: str,
    namespace: str,
    credentials: dict[str, Any],
    binding_type: str,
    provider: str,
    labels: dict[str, str],
) -> dict[str, Any]:
    entries = {**{k: v for k, v in credentials.items()}, "type": binding_type, "provider": provider}
    data = {key: base64.b64encode(str(value).encode()).decode() for key, value in entries.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "type": f"servicebinding.io/{binding_type}",
        "data": data,
    }


def _root_of(container: dict[str, Any]) -> str:
    for env in container.get("env") or []:
        if env.get("name") == "SERVICE_BINDING_ROOT" and env.get("value"):
            return str(env["value"])
    return SERVICE_BINDING_ROOT


def project(client: kube.Kube, app: AppRef, *, binding_id: str, binding_name: str, secret_name: str) -> None:
    """Mount the binding's Secret into every container of the app (idempotent)."""
    workload = client.get(app.api_version, app.kind, app.name, app.namespace)
    pod_spec = workload["spec"]["template"]["spec"]
    volume = _volume_name(binding_name)

    def container_patch(container: dict[str, Any]) -> dict[str, Any]:
        root = _root_of(container)
        return {
            "name": container["name"],
            "env": [{"name": "SERVICE_BINDING_ROOT", "value": root}],
            "volumeMounts": [{"name": volume, "mountPath": f"{root}/{binding_name}", "readOnly": True}],
        }

    template_spec: dict[str, Any] = {
        "volumes": [{"name": volume, "secret": {"secretName": secret_name}}],
        "containers": [container_patch(c) for c in pod_spec.get("containers", [])],
    }
    if pod_spec.get("initContainers"):
        template_spec["initContainers"] = [container_patch(c) for c in pod_spec["initContainers"]]
    body = {
        "apiVersion": app.api_version,
        "kind": app.kind,
        "metadata": {"name": app.name, "namespace": app.namespace},
        "spec": {"template": {"spec": template_spec}},
    }
    # force: SERVICE_BINDING_ROOT may already be set (same value) by the app's owner or another binding.
    client.apply(body, force=True, field_manager=field_manager(binding_id))


def unproject(client: kube.Kube, app: AppRef, *, binding_id: str) -> None:
    """Remove exactly what ``project`` added for this binding (the app may already be gone)."""
    if client.get_or_none(app.api_version, app.kind, app.name, app.namespace) is None:
        return
    body = {"apiVersion": app.api_version, "kind": app.kind, "metadata": {"name": app.name, "namespace": app.namespace}}
    client.apply(body, force=True, field_manager=field_manager(binding_id))
