"""Watching, resuming, and surviving 410 Gone."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kube import Kube, WatchEvent

from .objects import config_map


def _names(events: list[WatchEvent]) -> list[tuple[str, str | None]]:
    return [(e.type, e.object["metadata"]["name"] if e.object else None) for e in events]


def test_watch_lists_then_follows_changes(kube: Kube, kube_namespace: str) -> None:
    kube.apply(config_map("a", v="1"), namespace=kube_namespace)
    events = kube.watch("v1", "ConfigMap", kube_namespace, label_selector=None, timeout_seconds=30)
    first = next(events)
    assert (first.type, first.object["metadata"]["name"]) == ("ADDED", "a")  # type: ignore[index]
    # kube-root-ca.crt is created in every namespace by the controller manager.
    seen = [first]
    kube.apply(config_map("a", v="2"), namespace=kube_namespace)
    kube.delete(config_map("a"), namespace=kube_namespace, propagation="Background")
    for event in events:
        seen.append(event)
        if event.type == "DELETED" and event.object["metadata"]["name"] == "a":  # type: ignore[index]
            break
    names = [n for n in _names(seen) if n[1] == "a"]
    assert names == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_watch_resumes_from_a_resource_version(kube: Kube, kube_namespace: str) -> None:
    kube.apply(config_map("before"), namespace=kube_namespace)
    listed = kube.list("v1", "ConfigMap", kube_namespace)
    assert "before" in [o["metadata"]["name"] for o in listed]
    kube.apply(config_map("after"), namespace=kube_namespace)
    events = kube.watch("v1", "ConfigMap", kube_namespace, resource_version=listed.resource_version, timeout_seconds=10)
    event = next(events)
    assert (event.type, event.object["metadata"]["name"]) == ("ADDED", "after")  # type: ignore[index]
    events.close()


GROUP = "sbtest.servicebay.io"


def probe_crd(plural: str) -> dict[str, Any]:
    kind = plural.capitalize()[:-1]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": kind},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


@pytest.fixture
def probes(kube: Kube) -> Iterator[str]:
    """A kind created now: the API server's watch cache for it starts at today's
    resourceVersion, so anything older (like "1") is gone for good (410)."""
    crd = probe_crd(f"probes{uuid.uuid4().hex[:6]}s")
    kube.apply(crd)
    yield crd["spec"]["names"]["kind"]
    kube.delete(crd, wait=False)


def test_watch_survives_410_gone(kube: Kube, kube_namespace: str, probes: str) -> None:
    def probe(name: str) -> dict[str, Any]:
        return {"apiVersion": f"{GROUP}/v1", "kind": probes, "metadata": {"name": name, "labels": {"w": "1"}}}

    kube.apply([probe("one"), probe("two")], namespace=kube_namespace)
    events = kube.watch(
        f"{GROUP}/v1", probes, kube_namespace, label_selector="w=1", resource_version="1", timeout_seconds=30
    )
    got = [next(events) for _ in range(3)]
    assert _names(got) == [("RELIST", None), ("ADDED", "one"), ("ADDED", "two")]

    def later() -> None:
        time.sleep(0.5)
        kube.apply(probe("three"), namespace=kube_namespace)

    threading.Thread(target=later).start()
    event = next(events)
    assert (event.type, event.object["metadata"]["name"]) == ("ADDED", "three")  # type: ignore[index]
    events.close()


def test_watch_ends_at_its_timeout(kube: Kube, kube_namespace: str) -> None:
    rv = kube.list("v1", "Secret", kube_namespace).resource_version
    start = time.monotonic()
    events = list(kube.watch("v1", "Secret", kube_namespace, resource_version=rv, timeout_seconds=2))
    assert events == []
    assert 1.5 < time.monotonic() - start < 8
