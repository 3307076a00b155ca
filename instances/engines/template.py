"""The template engine: render a type version's manifests with the instance's parameters
(sandboxed Jinja2, catalog.rendering) and apply them with server-side apply as "servicebay".

Kubernetes calls: one apply per object, then one *list* per kind and namespace (by the
instance label) for readiness and outputs — never a GET per object in a loop.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from django.conf import settings

import kube
from portal.operations import OperationContext, OperationFailed, RetryLater

INSTANCE_LABEL = "servicebay.io/instance"


def standard_labels(instance) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": instance.type.slug,
        "app.kubernetes.io/instance": instance.name,
        "app.kubernetes.io/version": instance.version.version,
        "app.kubernetes.io/managed-by": "servicebay",
        "app.kubernetes.io/part-of": instance.org.slug,
        INSTANCE_LABEL: str(instance.pk),
    }


def selector(instance) -> str:
    return f"{INSTANCE_LABEL}={instance.pk}"


def ref_of(obj: dict[str, Any], namespace: str) -> dict[str, str]:
    meta = obj.get("metadata", {})
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": meta["name"],
        "namespace": meta.get("namespace") or namespace,
    }


def kube_refs(refs: list[dict[str, str]]) -> list[kube.Ref]:
    return [kube.Ref(r["apiVersion"], r["kind"], r["name"], r.get("namespace")) for r in refs]


def _connect(instance):
    try:
        return instance.cluster.connect()
    except kube.KubeError as exc:
        raise OperationFailed(f"The cluster {instance.cluster.name} cannot be used: {exc}") from exc


def _transient(exc: kube.KubeError) -> bool:
    return isinstance(exc, kube.KubeUnreachable) or (exc.status or 0) >= 500 or exc.status == 429


class TemplateEngine:
    ready_timeout = property(lambda self: settings.INSTANCE_READY_TIMEOUT_SECONDS)

    def render(self, instance, parameters: dict[str, Any] | None = None, version=None) -> list[dict[str, Any]]:
        from catalog.rendering import render_manifests
        from instances.services import instance_parameters

        version = version or instance.version
        values = instance_parameters(instance) if parameters is None else parameters
        labels = standard_labels(instance) | {"app.kubernetes.io/version": version.version}
        objects = render_manifests(
            version, values, instance_name=instance.name, namespace=instance.namespace, labels=labels
        )
        for obj in objects:  # every object carries the standard labels, whatever the template says
            meta = obj.setdefault("metadata", {})
            meta["labels"] = {**(meta.get("labels") or {}), **labels}
            if obj.get("kind") in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
                template_meta = obj.setdefault("spec", {}).setdefault("template", {}).setdefault("metadata", {})
                template_meta["labels"] = {**(template_meta.get("labels") or {}), INSTANCE_LABEL: str(instance.pk)}
        return objects

    # -- provision / update -------------------------------------------------------------

    def provision(self, ctx: OperationContext, instance) -> dict[str, Any]:
        return self._apply_and_wait(ctx, instance)

    def update(self, ctx: OperationContext, instance) -> dict[str, Any]:
        return self._apply_and_wait(ctx, instance, prune=True)

    def _apply_and_wait(self, ctx: OperationContext, instance, prune: bool = False) -> dict[str, Any]:
        from catalog.rendering import RenderError

        try:
            objects = self.render(instance)
        except RenderError as exc:
            raise OperationFailed(f"The manifests do not render: {exc.describe()}") from exc
        ctx.log(f"Rendered {len(objects)} object(s) from {instance.type.slug} {instance.version.version}")
        client = _connect(instance)
        with client:
            refs = [ref_of(o, instance.namespace) for o in objects]
            self._remember(instance, refs, keep_previous=True)
            try:
                client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": instance.namespace}})
                client.apply(objects, namespace=instance.namespace)
            except kube.ApplyConflict as exc:
                raise OperationFailed(
                    f"Another manager owns fields Servicebay wants to set: {exc.message}. "
                    "Revert the manual change or adopt it into a new type version."
                ) from exc
            except kube.KubeError as exc:
                if _transient(exc):
                    raise RetryLater(f"Kubernetes did not answer: {exc.message}") from exc
                raise OperationFailed(f"Kubernetes refused the manifests: {exc.message}") from exc
            ctx.log("Applied " + ", ".join(f"{r['kind']}/{r['name']}" for r in refs))
            if prune:
                self._prune(ctx, client, instance, refs)
            self._remember(instance, refs)
            live = self._wait_ready(ctx, client, instance, refs)
            outputs = self._outputs(instance, live)
        ctx.log("Ready" + (f"; outputs: {', '.join(sorted(outputs))}" if outputs else ""))
        return {"outputs": outputs, "resources": refs}

    def _remember(self, instance, refs: list[dict[str, str]], keep_previous: bool = False) -> None:
        from instances.models import Instance

        known = list(instance.resources or []) if keep_previous else []
        merged = known + [r for r in refs if r not in known]
        Instance.objects.filter(pk=instance.pk).update(resources=merged)
        instance.resources = merged

    def _prune(self, ctx, client, instance, refs) -> None:
        """Delete objects the instance owned before that the new render no longer has."""
        stale = [r for r in instance.resources or [] if r not in refs]
        if stale:
            client.delete(kube_refs(stale), wait=True, timeout=self.ready_timeout)
            ctx.log("Removed " + ", ".join(f"{r['kind']}/{r['name']}" for r in stale))

    def _list_live(self, client, instance, refs) -> dict[tuple[str, str], dict[str, Any]]:
        """The instance's live objects: one list call per kind and namespace."""
        groups = defaultdict(set)
        for ref in refs:
            groups[(ref["apiVersion"], ref["kind"], ref["namespace"])].add(ref["name"])
        live = {}
        for (api_version, kind, namespace), names in groups.items():
            for obj in client.list(api_version, kind, namespace, label_selector=selector(instance)):
                if obj["metadata"]["name"] in names:
                    live[(kind, obj["metadata"]["name"])] = obj
        return live

    def _wait_ready(self, ctx, client, instance, refs) -> dict[tuple[str, str], dict[str, Any]]:
        deadline = time.monotonic() + self.ready_timeout
        last_reasons: dict[str, str] = {}
        pause = 0.2  # poll quickly at first, then back off to every 2 s
        while True:
            try:
                live = self._list_live(client, instance, refs)
            except kube.KubeError as exc:
                if _transient(exc):
                    raise RetryLater(f"Kubernetes did not answer while waiting: {exc.message}") from exc
                raise OperationFailed(str(exc)) from exc
            waiting = {}
            for ref in refs:
                obj = live.get((ref["kind"], ref["name"]))
                status = kube.readiness(obj) if obj else kube.Readiness(False, "not found yet")
                if not status.ready:
                    waiting[f"{ref['kind']}/{ref['name']}"] = status.reason
            for name, reason in waiting.items():
                if last_reasons.get(name) != reason:
                    ctx.log(f"Waiting for {name}: {reason}")
            last_reasons = waiting
            if not waiting:
                return live
            if time.monotonic() > deadline:
                details = "; ".join(f"{k}: {v}" for k, v in waiting.items())
                raise OperationFailed(f"Not ready after {self.ready_timeout}s — {details}")
            ctx.sleep(pause)
            pause = min(pause * 2, 2.0)

    def _outputs(self, instance, live) -> dict[str, Any]:
        """Values read from live objects, as the version's ``outputs`` say (catalog/outputs.py)."""
        from catalog.outputs import read_jsonpath
        from catalog.rendering import render_value, template_context
        from instances.services import instance_parameters

        context = template_context(
            instance.version,
            instance_parameters(instance),
            instance_name=instance.name,
            namespace=instance.namespace,
            labels=standard_labels(instance),
        )
        outputs: dict[str, Any] = {}
        for spec in instance.version.outputs or []:
            source = spec.get("from") or {}
            object_name = render_value(source.get("name_template", "{{ instance.name }}"), context).strip()
            obj = live.get((source.get("kind"), object_name))
            outputs[spec["name"]] = read_jsonpath(obj, source["jsonpath"]) if obj else None
        return outputs

    # -- deprovision --------------------------------------------------------------------

    def deprovision(self, ctx: OperationContext, instance) -> dict[str, Any]:
        """Delete everything the instance owns (recorded refs and anything with its label)."""
        client = _connect(instance)
        with client:
            refs = list(instance.resources or [])
            try:
                kinds = {(r["apiVersion"], r["kind"], r["namespace"]) for r in refs}
                for api_version, kind, namespace in sorted(kinds):
                    for obj in client.list(api_version, kind, namespace, label_selector=selector(instance)):
                        ref = ref_of(obj, namespace)
                        if ref not in refs:
                            refs.append(ref)
                if refs:
                    ctx.log("Deleting " + ", ".join(f"{r['kind']}/{r['name']}" for r in refs))
                    client.delete(kube_refs(refs), propagation="Foreground", wait=True, timeout=self.ready_timeout)
            except kube.KubeError as exc:
                if _transient(exc):
                    raise RetryLater(f"Kubernetes did not answer: {exc.message}") from exc
                raise OperationFailed(f"Could not delete the instance's objects: {exc.message}") from exc
        ctx.log(f"Deleted {len(refs)} object(s); nothing with label {selector(instance)} is left")
        return {"deleted": refs}
