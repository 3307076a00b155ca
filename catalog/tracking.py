"""Tracking the address of registered Kubernetes services (scenario 0).

* ``resolve(service)`` reads the Service once (the ``service.resolve`` operation, run when a
  service is registered or changed, and by ``sbay``/the UI on demand);
* ``sync_all()`` lists the Services of every cluster that has registered services (the periodic
  ``catalog.tasks.track_addresses`` task, a safety net);
* ``watch_cluster(cluster, seconds=…)`` follows a cluster's Services with the Kubernetes watch
  API and records every address change as it happens; ``run_forever()`` (the
  ``manage.py track_addresses`` process) keeps one such watch per cluster.

The address is the Service's load-balancer ingress when it has one, else its cluster IP
(headless Services: their DNS name; ExternalName: the external name), with its ports.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from catalog.models import RegisteredService
from catalog.services import record_address

log = logging.getLogger(__name__)


class Unreachable(Exception):
    pass


@dataclass
class Address:
    host: str
    ports: list[dict] = field(default_factory=list)
    error: str = ""


def address_of(svc: dict | None, namespace: str = "", name: str = "") -> Address:
    if svc is None:
        return Address("", [], f"Service {namespace}/{name} does not exist (any more).")
    spec = svc.get("spec") or {}
    meta = svc.get("metadata") or {}
    ports = []
    for port in spec.get("ports") or []:
        entry: dict[str, Any] = {"port": port.get("port"), "protocol": port.get("protocol", "TCP")}
        if port.get("name"):
            entry["name"] = port["name"]
        if port.get("nodePort"):
            entry["node_port"] = port["nodePort"]
        ports.append(entry)
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if spec.get("type") == "ExternalName":
        host = spec.get("externalName", "")
    elif ingress and (ingress[0].get("ip") or ingress[0].get("hostname")):
        host = ingress[0].get("ip") or ingress[0].get("hostname")
    elif spec.get("clusterIP") and spec.get("clusterIP") != "None":
        host = spec["clusterIP"]
    else:
        host = f"{meta.get('name', name)}.{meta.get('namespace', namespace)}.svc"
    return Address(host, ports)


def _record(service: RegisteredService, address: Address) -> bool:
    return record_address(service, host=address.host, ports=address.ports, error=address.error)


def resolve(service: RegisteredService) -> Address:
    """Read the Service now and store its address."""
    import kube

    try:
        with service.cluster.connect() as client:
            svc = client.get_or_none("v1", "Service", service.service_name, service.namespace)
    except kube.KubeUnreachable as exc:
        raise Unreachable(f"Cannot reach cluster {service.cluster.name}: {exc}") from exc
    except kube.KubeError as exc:
        address = Address("", [], f"Cannot read the Service: {exc}")
        _record(service, address)
        return address
    address = address_of(svc, service.namespace, service.service_name)
    _record(service, address)
    return address


def _tracked() -> dict[int, list[RegisteredService]]:
    by_cluster: dict[int, list[RegisteredService]] = {}
    for service in RegisteredService.objects.filter(kind=RegisteredService.Kind.KUBERNETES).select_related(
        "cluster", "org"
    ):
        by_cluster.setdefault(service.cluster_id, []).append(service)
    return by_cluster


def sync_cluster(services: list[RegisteredService]) -> int:
    """List the Services of the namespaces involved (one call each); record changes. Returns how many changed."""
    import kube

    cluster = services[0].cluster
    changed = 0
    try:
        with cluster.connect() as client:
            found: dict[tuple[str, str], dict] = {}
            for namespace in sorted({s.namespace for s in services}):
                for svc in client.list("v1", "Service", namespace):
                    found[(namespace, svc["metadata"]["name"])] = svc
    except kube.KubeError as exc:
        log.warning("Cannot list Services of cluster %s: %s", cluster.name, exc)
        return 0
    for service in services:
        svc = found.get((service.namespace, service.service_name))
        changed += _record(service, address_of(svc, service.namespace, service.service_name))
    return changed


def sync_all() -> int:
    return sum(sync_cluster(services) for services in _tracked().values())


def watch_cluster(cluster_id: int, *, seconds: float, stop: threading.Event | None = None) -> int:
    """Follow Service changes in one cluster for ``seconds``; record address changes as they come."""
    import kube

    services = _tracked().get(cluster_id, [])
    if not services:
        return 0
    cluster = services[0].cluster
    by_key: dict[tuple[str, str], list[RegisteredService]] = {}
    for service in services:
        by_key.setdefault((service.namespace, service.service_name), []).append(service)
    namespaces = {s.namespace for s in services}
    namespace = next(iter(namespaces)) if len(namespaces) == 1 else None
    changed = 0
    with cluster.connect() as client:
        try:
            for event in client.watch("v1", "Service", namespace=namespace, timeout_seconds=seconds):
                if stop is not None and stop.is_set():
                    break
                if event.object is None:
                    continue
                meta = event.object.get("metadata") or {}
                key = (meta.get("namespace", ""), meta.get("name", ""))
                for service in by_key.get(key, []):
                    svc = None if event.type == "DELETED" else event.object
                    changed += _record(service, address_of(svc, *key))
        except kube.KubeError as exc:
            log.warning("Watch of Services in cluster %s ended: %s", cluster.name, exc)
    return changed


def run_forever(window: float = 300, stop: threading.Event | None = None) -> None:
    """One watch per cluster with registered services, renewed every ``window`` seconds."""
    stop = stop or threading.Event()
    threads: dict[int, threading.Thread] = {}

    def follow(cluster_id: int) -> None:
        from django.db import close_old_connections, connection

        try:
            while not stop.is_set():
                close_old_connections()
                try:
                    if not watch_cluster(cluster_id, seconds=window, stop=stop) and cluster_id not in _tracked():
                        return
                except Exception:  # keep tracking the other clusters whatever happens to one
                    log.exception("Address tracking of cluster %s failed; retrying", cluster_id)
                    stop.wait(10)
        finally:
            connection.close()

    while not stop.is_set():
        for cluster_id in _tracked():
            thread = threads.get(cluster_id)
            if thread is None or not thread.is_alive():
                threads[cluster_id] = threading.Thread(target=follow, args=(cluster_id,), daemon=True)
                threads[cluster_id].start()
        stop.wait(30)
        time.sleep(0)
