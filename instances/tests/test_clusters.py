"""Clusters as data, checked against the real local API server (scripts/cluster)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.db import connection

from conftest import api_client_for
from instances.models import Cluster
from instances.tasks import check_clusters
from portal import operations
from portal.models import AuditEvent, Operation
from sbay.cli import main as sbay


@pytest.fixture
def kubeconfig(kube_cluster) -> str:
    return Path(kube_cluster).read_text()


@pytest.fixture
def unreachable_kubeconfig(kubeconfig) -> str:
    return re.sub(r"server: https://127\.0\.0\.1:\d+", "server: https://127.0.0.1:9", kubeconfig)


@pytest.fixture
def cluster(org, owner, kubeconfig) -> Cluster:
    return Cluster.objects.create(org=org, name="local", kubeconfig=kubeconfig)


def run_operation(op_id) -> Operation:
    operations.execute(op_id)
    return Operation.objects.get(pk=op_id)


def test_register_checks_health_and_keeps_kubeconfig_secret(api, kubeconfig):
    response = api.post("/api/v1/clusters/", {"name": "local", "kubeconfig": kubeconfig}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert "kubeconfig" not in body and body["health"] == "pending" and body["operation"]["kind"] == "cluster.check"
    op = run_operation(body["operation"]["id"])
    assert op.state == "succeeded", op.error
    cluster = Cluster.objects.get(name="local")
    assert cluster.reachable and cluster.server_version.startswith("v1.") and cluster.health_state == "ready"
    # Encrypted at rest: the column holds a Fernet token, not the YAML.
    with connection.cursor() as cursor:
        cursor.execute("SELECT kubeconfig FROM instances_cluster WHERE id = %s", [cluster.pk])
        raw = cursor.fetchone()[0]
    assert "client-certificate-data" not in raw and "token" not in raw and raw.startswith("gAAAA")
    assert cluster.kubeconfig == kubeconfig
    listed = api.get("/api/v1/clusters/").json()["results"]
    assert listed[0]["server_version"] == cluster.server_version and "kubeconfig" not in listed[0]
    event = AuditEvent.objects.get(action="cluster.register")
    assert "kubeconfig" not in event.changes and kubeconfig[:40] not in str(event.changes)


def test_unreachable_cluster_fails_fast_with_a_clear_message(api, unreachable_kubeconfig):
    body = api.post("/api/v1/clusters/", {"name": "gone", "kubeconfig": unreachable_kubeconfig}, format="json").json()
    started = time.monotonic()
    op = run_operation(body["operation"]["id"])
    assert time.monotonic() - started < 15
    assert op.state == "failed" and op.error.startswith("Cannot reach cluster gone:")
    cluster = Cluster.objects.get(name="gone")
    assert cluster.reachable is False and cluster.health_state == "failed" and cluster.last_error


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "kubeconfig": "not: [valid"}, "kubeconfig"),
        ({"name": "x", "kubeconfig": "- a list"}, "kubeconfig"),
        ({"name": "x"}, "kubeconfig"),
        ({"name": "Bad Name!", "access": "in_cluster"}, "name"),
        ({"name": "x", "access": "teleport"}, "access"),
    ],
)
def test_bad_input_is_a_field_error(api, payload, field):
    response = api.post("/api/v1/clusters/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Cluster.objects.exists() and not Operation.objects.exists()


def test_duplicate_name(api, cluster, kubeconfig):
    response = api.post("/api/v1/clusters/", {"name": "local", "kubeconfig": kubeconfig}, format="json")
    assert response.json()["error"]["fields"] == {"name": ["Acme Corp already has a cluster called 'local'."]}


@pytest.mark.parametrize(
    ("persona", "detail", "check", "delete"),
    [("owner", 200, 202, 204), ("teammate", 200, 202, 403), ("viewer", 200, 403, 403), ("outsider", 404, 404, 404)],
)
def test_cluster_access(request, cluster, persona, detail, check, delete):
    client = api_client_for(request.getfixturevalue(persona))
    assert client.get(f"/api/v1/clusters/{cluster.pk}/").status_code == detail
    assert client.post(f"/api/v1/clusters/{cluster.pk}/check/").status_code == check
    assert client.delete(f"/api/v1/clusters/{cluster.pk}/").status_code == delete
    if persona == "outsider":
        assert client.get("/api/v1/clusters/").json()["count"] == 0


def test_developers_cannot_register(teammate, kubeconfig):
    response = api_client_for(teammate).post(
        "/api/v1/clusters/", {"name": "x", "kubeconfig": kubeconfig}, format="json"
    )
    assert response.status_code == 403


def test_periodic_check_refreshes_health(cluster, org, unreachable_kubeconfig):
    Cluster.objects.create(org=org, name="gone", kubeconfig=unreachable_kubeconfig)
    assert check_clusters() == 2
    health = dict(Cluster.objects.values_list("name", "reachable"))
    assert health == {"local": True, "gone": False}


def test_clusters_page(client, owner, kubeconfig):
    client.force_login(owner)
    page = client.get("/instances/clusters/")
    assert b"Kubernetes is off" in page.content
    assert b"Kubernetes is off" in client.get("/").content
    response = client.post(
        "/instances/clusters/",
        {"name": "x", "access": "kubeconfig", "kubeconfig": "::bad", "default_namespace": "default"},
    )
    assert 'data-field="kubeconfig"' in response.content.decode()
    response = client.post(
        "/instances/clusters/",
        {"name": "local", "access": "kubeconfig", "kubeconfig": kubeconfig, "default_namespace": "default"},
    )
    assert response.status_code == 302 and response["Location"].startswith("/operations/")
    op_id = response["Location"].split("/")[2]
    run_operation(op_id)
    page = client.get("/instances/clusters/")
    assert b"reachable" in page.content and b"Kubernetes is off" not in page.content
    assert b"Kubernetes is off" not in client.get("/").content
    fragment = client.get("/instances/clusters/", HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and b'data-cluster="local"' in fragment.content


def test_clusters_cli(
    live_server, owner, kube_cluster, unreachable_kubeconfig, tmp_path, monkeypatch, capsys, worker_factory
):
    from portal.services import create_api_token

    worker_factory()
    monkeypatch.setenv("SBAY_CONFIG", str(tmp_path / "cfg.json"))
    _, key = create_api_token(user=owner, name="cli")
    assert sbay(["login", "--url", live_server.url, "--token", key]) == 0
    assert sbay(["clusters", "add", "local", "--kubeconfig", kube_cluster, "--wait"]) == 0
    assert "Reachable; server version v1." in capsys.readouterr().out
    assert sbay(["clusters", "list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"local\s+ready\s+v1\.", out), out
    assert sbay(["clusters", "check", "local", "--wait"]) == 0
    gone = tmp_path / "gone.yaml"
    gone.write_text(unreachable_kubeconfig)
    assert sbay(["clusters", "add", "gone", "--kubeconfig", str(gone), "--wait"]) == 1
    assert "Cannot reach cluster gone" in capsys.readouterr().out
    assert sbay(["clusters", "add", "x", "--kubeconfig", str(tmp_path / "missing")]) == 2
    assert sbay(["clusters", "remove", "gone"]) == 0
    assert sbay(["clusters", "check", "gone"]) == 4
    assert list(Cluster.objects.values_list("name", flat=True)) == ["local"]
