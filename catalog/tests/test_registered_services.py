"""Registered services (scenario 0): external host:port, and Kubernetes Services whose address is
tracked on the real local API server (lookup operation, periodic list, watch)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from catalog import services, tracking
from catalog.models import RegisteredService
from conftest import api_client_for
from portal import operations
from portal.models import AuditEvent, Operation


def test_external_service(api, owner, org, team, teammate, outsider, other_org):
    response = api.post(
        "/api/v1/registered-services/",
        {"slug": "crm", "name": "CRM", "kind": "external", "host": "crm.acme.example", "port": 8443},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["address"] == "crm.acme.example:8443" and body["address_state"] == "ready"
    assert [r["slug"] for r in api_client_for(teammate).get("/api/v1/registered-services/").json()["results"]] == [
        "crm"
    ]
    assert api_client_for(outsider).get("/api/v1/registered-services/").json()["results"] == []
    response = api.patch(
        f"/api/v1/registered-services/{body['id']}/", {"visibility": "orgs", "shared_with": ["globex"]}, format="json"
    )
    assert response.json()["shared_with"] == ["globex"]
    assert api_client_for(outsider).get(f"/api/v1/registered-services/{body['id']}/").status_code == 200
    assert AuditEvent.objects.filter(action="service.share").exists()
    for bad, field in (({"host": "not a host!"}, "host"), ({"port": 70000}, "port")):
        payload = {"slug": "bad", "name": "Bad", "kind": "external", "host": "h.example", "port": 80, **bad}
        response = api.post("/api/v1/registered-services/", payload, format="json")
        assert field in response.json()["error"]["fields"], response.content
    response = api.post(
        "/api/v1/registered-services/",
        {"slug": "crm", "name": "Again", "kind": "external", "host": "a.example", "port": 1},
        format="json",
    )
    assert "already has a registered service" in response.json()["error"]["fields"]["slug"][0]


def test_kubernetes_service_needs_a_cluster_of_the_org(owner, org, team):
    with pytest.raises(ValidationError, match="Choose the cluster"):
        services.register_service(
            actor=owner, org=org, owner_team=team, slug="chat", name="Chat", kind="kubernetes", service_name="chat"
        )


def test_address_of():
    svc = {
        "metadata": {"name": "chat", "namespace": "apps"},
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "10.0.0.7",
            "ports": [{"port": 80, "nodePort": 30080, "name": "http"}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}},
    }
    assert tracking.address_of(svc).host == "203.0.113.9"
    assert tracking.address_of(svc).ports == [{"port": 80, "protocol": "TCP", "name": "http", "node_port": 30080}]
    svc["status"] = {}
    assert tracking.address_of(svc).host == "10.0.0.7"
    svc["spec"]["clusterIP"] = "None"
    assert tracking.address_of(svc).host == "chat.apps.svc"
    assert tracking.address_of(None, "apps", "chat").error == "Service apps/chat does not exist (any more)."


# --- on the real API server -----------------------------------------------------------------


@pytest.fixture
def cluster(org, kube_cluster):
    from instances.models import Cluster

    return Cluster.objects.create(org=org, name="local", kubeconfig=Path(kube_cluster).read_text())


def chat_service(port: int = 80) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "chat"},
        "spec": {"selector": {"app": "chat"}, "ports": [{"name": "http", "port": port, "targetPort": 3000}]},
    }


def test_registering_a_kubernetes_service_looks_its_address_up(owner, org, team, cluster, kube, kube_namespace):
    kube.apply(chat_service(), namespace=kube_namespace)
    cluster_ip = kube.get("v1", "Service", "chat", kube_namespace)["spec"]["clusterIP"]
    service = services.register_service(
        actor=owner,
        org=org,
        owner_team=team,
        slug="chat",
        name="Chat",
        kind="kubernetes",
        cluster=cluster,
        namespace=kube_namespace,
        service_name="chat",
    )
    op = Operation.objects.get(kind="service.resolve")
    assert operations.execute(op.pk) == "succeeded"
    service.refresh_from_db()
    assert service.address == f"{cluster_ip}:80" and service.address_state == "ready"
    # it moves: another namespace, another Service
    kube.apply({**chat_service(8080), "metadata": {"name": "chat-v2"}}, namespace=kube_namespace)
    services.update_registered_service(actor=owner, service=service, service_name="chat-v2")
    op = Operation.objects.filter(kind="service.resolve").order_by("-created_at").first()
    operations.execute(op.pk)
    service.refresh_from_db()
    assert service.address.endswith(":8080") and service.address != f"{cluster_ip}:80"
    assert AuditEvent.objects.filter(action="service.address", target_id=str(service.pk)).count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_watch_follows_address_changes(owner, org, team, cluster, kube, kube_namespace):
    kube.apply(chat_service(), namespace=kube_namespace)
    service = RegisteredService.objects.create(
        org=org,
        owner_team=team,
        slug="chat",
        name="Chat",
        kind="kubernetes",
        cluster=cluster,
        namespace=kube_namespace,
        service_name="chat",
    )
    assert tracking.sync_all() == 1  # the periodic list
    service.refresh_from_db()
    assert service.address.endswith(":80")
    stop = threading.Event()

    def watch():
        try:
            tracking.watch_cluster(cluster.pk, seconds=20, stop=stop)
        finally:
            connections.close_all()  # this thread's connection

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        time.sleep(1)
        kube.patch(
            chat_service(),
            {"spec": {"ports": [{"name": "http", "port": 9090, "targetPort": 3000}]}},
            namespace=kube_namespace,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            service.refresh_from_db()
            if service.address.endswith(":9090"):
                break
            time.sleep(0.2)
        assert service.address.endswith(":9090"), service.address
        kube.delete(chat_service(), namespace=kube_namespace)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            service.refresh_from_db()
            if service.address_error:
                break
            time.sleep(0.2)
        assert service.address_state == "failed" and "does not exist" in service.address_error
    finally:
        stop.set()
        kube.apply({**chat_service(), "metadata": {"name": "wake-up"}}, namespace=kube_namespace)  # ends the watch
        watcher.join(timeout=30)
