"""Instances on the real local control plane: provision, update, bind, unbind, deprovision, share."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import api_client_for
from instances.models import Binding, Cluster, Instance
from instances.tests.conftest import run
from portal.models import AuditEvent, Operation, OperationStep

LABEL = "servicebay.io/instance"


def provision(api, **body):
    payload = {"type": "chat", "name": "chat-a", "plan": "small", "parameters": {"tag": "1.2"}} | body
    response = api.post("/api/v1/instances/", payload, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def consumer(kube, namespace, name="consumer"):
    kube.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [
                            {"name": "app", "image": "example/app:1"},
                            {"name": "proxy", "image": "example/proxy:1"},
                        ]
                    },
                },
            },
        },
        field_manager="kubectl-client-side-apply",
    )


def test_lifecycle_provision_update_bind_unbind_deprovision(api, owner, chat_type, cluster, kube, kube_namespace):
    body = provision(api)
    assert body["kind"] == "instance.provision" and body["instance"]["state"] == "provisioning"
    op = run(body["id"])
    assert op.state == "succeeded", op.error
    instance = Instance.objects.get(name="chat-a")
    assert instance.state == "ready" and instance.outputs["port"] == 80 and instance.outputs["host"]
    deployment = kube.get("apps/v1", "Deployment", "chat-a", kube_namespace)
    labels = deployment["metadata"]["labels"]
    assert labels[LABEL] == str(instance.pk) and labels["app.kubernetes.io/managed-by"] == "servicebay"
    assert labels["app.kubernetes.io/name"] == "chat" and labels["app.kubernetes.io/version"] == "1.0.0"
    assert deployment["spec"]["replicas"] == 1
    steps = list(op.steps.values_list("message", flat=True))
    assert any(s.startswith("Waiting for Deployment/chat-a") for s in steps) or "Ready; outputs: host, port" in steps
    # Secrets never show: not in the API, not in the step log, not in the audit entry.
    detail = api.get(f"/api/v1/instances/{instance.pk}/").json()
    assert detail["parameters"]["admin_password"] == "********" and detail["parameters"]["tag"] == "1.2"
    assert not OperationStep.objects.filter(message__contains="change-me-now").exists()
    assert "change-me-now" not in str(AuditEvent.objects.get(action="instance.provision").changes)
    assert "change-me-now" in instance.secret_parameters  # decrypted on read, encrypted at rest

    # Preview, then small → large.
    preview = api.post(f"/api/v1/instances/{instance.pk}/preview/", {"plan": "large"}, format="json").json()
    assert "-  replicas: 1\n+  replicas: 3\n" in preview["diff"] and "change-me-now" not in preview["diff"]
    assert "cpu: 500m" in preview["diff"]
    response = api.patch(f"/api/v1/instances/{instance.pk}/", {"plan": "large"}, format="json")
    assert response.status_code == 202
    assert run(response.json()["id"]).state == "succeeded"
    deployment = kube.get("apps/v1", "Deployment", "chat-a", kube_namespace)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "500m"
    assert Instance.objects.get(pk=instance.pk).plan.slug == "large"

    # Bind a consumer app: credentials land in a Secret projected into every container.
    consumer(kube, kube_namespace)
    response = api.post(
        f"/api/v1/instances/{instance.pk}/bindings/",
        {"app": "deployment/consumer", "namespace": kube_namespace},
        format="json",
    )
    assert response.status_code == 202, response.content
    binding_id = response.json()["binding"]["id"]
    assert run(response.json()["id"]).state == "succeeded"
    spec = kube.get("apps/v1", "Deployment", "consumer", kube_namespace)["spec"]["template"]["spec"]
    assert spec["volumes"] == [
        {"name": "sb-consumer", "secret": {"secretName": "chat-a-consumer-binding", "defaultMode": 420}}
    ]
    for container in spec["containers"]:
        assert {"name": "SERVICE_BINDING_ROOT", "value": "/bindings"} in container["env"]
        assert container["volumeMounts"][0]["mountPath"] == "/bindings/consumer"
    secret = kube.get("v1", "Secret", "chat-a-consumer-binding", kube_namespace)
    files = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert set(files) == {"host", "port", "uri", "password", "type", "provider"}
    assert files["type"] == "chat" and files["provider"] == "servicebay" and files["port"] == "80"
    assert secret["type"] == "servicebinding.io/chat"

    # Shown once to the binder, masked everywhere else.
    listed = api.get("/api/v1/bindings/").json()["results"][0]
    assert listed["credentials"] == {k: "********" for k in ("host", "port", "uri", "password")}
    creds = api.post(f"/api/v1/bindings/{binding_id}/credentials/").json()
    assert creds["password"] == files["password"] and len(creds["password"]) == 20
    again = api.post(f"/api/v1/bindings/{binding_id}/credentials/")
    assert again.status_code == 400 and "already shown once" in again.json()["error"]["message"]
    assert files["password"] not in str(list(AuditEvent.objects.values_list("changes", flat=True)))
    assert not OperationStep.objects.filter(message__contains=files["password"]).exists()

    # Deprovisioning is refused while bound.
    refused = api.delete(f"/api/v1/instances/{instance.pk}/")
    assert refused.status_code == 400 and "Unbind its bindings first: consumer" in refused.json()["error"]["message"]

    # Unbind: Secret and projection are gone, the app's own fields stay.
    response = api.delete(f"/api/v1/bindings/{binding_id}/")
    assert response.status_code == 202 and run(response.json()["id"]).state == "succeeded"
    assert kube.get_or_none("v1", "Secret", "chat-a-consumer-binding", kube_namespace) is None
    spec = kube.get("apps/v1", "Deployment", "consumer", kube_namespace)["spec"]["template"]["spec"]
    assert "volumes" not in spec and all("env" not in c for c in spec["containers"])
    assert Binding.objects.get(pk=binding_id).state == "deleted"

    # Deprovision: nothing with the instance label is left.
    response = api.delete(f"/api/v1/instances/{instance.pk}/")
    assert response.status_code == 202 and run(response.json()["id"]).state == "succeeded"
    for api_version, kind in (("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "Pod"), ("apps/v1", "ReplicaSet")):
        assert kube.list(api_version, kind, kube_namespace, label_selector=f"{LABEL}={instance.pk}") == []
    assert Instance.objects.get(pk=instance.pk).state == "deprovisioned"
    assert api.get("/api/v1/instances/").json()["count"] == 0


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"plan": "huge"}, {"plan"}),
        ({"plan": ""}, {"plan"}),
        ({"name": "Bad_Name"}, {"name"}),
        ({"parameters": {"tag": "UPPER", "port": 0}}, {"/tag", "/port"}),
        ({"parameters": {"replicas": 4}}, {"/replicas"}),
        ({"type": "nope"}, None),
        ({"cluster": "mars"}, {"cluster"}),
        ({"version": "9.9.9"}, {"version"}),
    ],
)
def test_bad_provision_requests(teammate, chat_type, cluster, payload, fields):
    api = api_client_for(teammate)
    body = {"type": "chat", "name": "chat-b", "plan": "small"} | payload
    response = api.post("/api/v1/instances/", body, format="json")
    if fields is None:
        assert response.status_code == 404
    else:
        assert response.status_code == 400, response.content
        assert set(response.json()["error"]["fields"]) == fields, response.json()
    assert not Instance.objects.exists() and not Operation.objects.exists()


def test_duplicate_name(api, chat_type, cluster):
    provision(api)
    response = api.post("/api/v1/instances/", {"type": "chat", "name": "chat-a", "plan": "small"}, format="json")
    assert response.json()["error"]["fields"]["name"] == ["Acme Corp already has an instance called 'chat-a'."]


def test_locked_parameters_only_for_type_owners(api, teammate, chat_type, cluster):
    denied = api_client_for(teammate).post(
        "/api/v1/instances/",
        {"type": "chat", "name": "chat-t", "plan": "small", "parameters": {"replicas": 2}},
        format="json",
    )
    assert denied.status_code == 400 and "/replicas" in denied.json()["error"]["fields"]
    allowed = api.post(
        "/api/v1/instances/",
        {"type": "chat", "name": "chat-o", "plan": "small", "parameters": {"replicas": 2}},
        format="json",
    )
    assert allowed.status_code == 202
    assert Instance.objects.get(name="chat-o").parameters["replicas"] == 2


def test_unreachable_cluster_retries_with_backoff_then_fails(api, org, chat_type, kubeconfig, settings):
    import re

    settings.OPERATION_MAX_ATTEMPTS = 2
    dead = re.sub(r"server: https://127\.0\.0\.1:\d+", "server: https://127.0.0.1:9", kubeconfig)
    Cluster.objects.create(org=org, name="gone", kubeconfig=dead)
    op_id = provision(api, cluster="gone")["id"]
    assert run(op_id).state == "pending"  # retry scheduled with backoff
    op = Operation.objects.get(pk=op_id)
    assert op.not_before > timezone.now() and "retrying in 5s" in op.steps.last().message
    Operation.objects.filter(pk=op_id).update(not_before=timezone.now() - timedelta(seconds=1))
    op = run(op_id)
    assert op.state == "failed" and op.error.startswith("Gave up after 2 attempts: Kubernetes did not answer")
    instance = Instance.objects.get(name="chat-a")
    assert instance.state == "failed" and instance.status_message == op.error


def test_half_provisioned_instance_can_be_deprovisioned(api, chat_type, cluster, kube, kube_namespace):
    version = chat_type.versions.get()
    version.manifests_template = version.manifests_template.replace("port: {{ parameters.port }}", "port: 0")
    version.save()
    op = run(provision(api)["id"])
    assert op.state == "failed" and "Kubernetes refused the manifests" in op.error
    instance = Instance.objects.get(name="chat-a")
    assert instance.state == "failed"
    assert kube.get_or_none("apps/v1", "Deployment", "chat-a", kube_namespace) is not None  # half-made
    response = api.delete(f"/api/v1/instances/{instance.pk}/")
    assert run(response.json()["id"]).state == "succeeded"
    assert kube.list("apps/v1", "Deployment", kube_namespace, label_selector=f"{LABEL}={instance.pk}") == []


def test_abandon_records_what_is_left(api, chat_type, cluster, kube, kube_namespace):
    run(provision(api)["id"])
    instance = Instance.objects.get(name="chat-a")
    response = api.delete(f"/api/v1/instances/{instance.pk}/?abandon=true")
    assert response.status_code == 200
    left = {(r["kind"], r["name"]) for r in response.json()["abandoned"]}
    assert left == {("Deployment", "chat-a"), ("Service", "chat-a")}
    assert kube.get_or_none("apps/v1", "Deployment", "chat-a", kube_namespace) is not None
    assert AuditEvent.objects.get(action="instance.abandon").changes["left_behind"]


def test_update_while_busy_is_refused(api, chat_type, cluster):
    body = provision(api)
    response = api.patch(f"/api/v1/instances/{body['instance']['id']}/", {"plan": "large"}, format="json")
    assert response.status_code == 400 and "provisioning" in response.json()["error"]["message"]


def test_outsider_sees_nothing(api, outsider, chat_type, cluster):
    run(provision(api)["id"])
    instance = Instance.objects.get(name="chat-a")
    client = api_client_for(outsider)
    assert client.get("/api/v1/instances/").json()["count"] == 0
    assert client.get("/api/v1/shared-instances/").json()["count"] == 0
    for method, url, data in [
        ("get", f"/api/v1/instances/{instance.pk}/", None),
        ("patch", f"/api/v1/instances/{instance.pk}/", {"plan": "large"}),
        ("post", f"/api/v1/instances/{instance.pk}/preview/", {}),
        ("delete", f"/api/v1/instances/{instance.pk}/", None),
        ("post", f"/api/v1/instances/{instance.pk}/bindings/", {"app": "deployment/x"}),
        ("get", f"/api/v1/instances/{instance.pk}/bindings/", None),
        ("post", f"/api/v1/instances/{instance.pk}/shares/", {"org": "globex"}),
    ]:
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == 404, (method, url, response.content)
    assert Instance.objects.get(pk=instance.pk).state == "ready"


def test_viewer_cannot_change_anything(api, viewer, chat_type, cluster):
    run(provision(api)["id"])
    instance = Instance.objects.get(name="chat-a")
    client = api_client_for(viewer)
    assert client.get(f"/api/v1/instances/{instance.pk}/").status_code == 200
    assert client.patch(f"/api/v1/instances/{instance.pk}/", {"plan": "large"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/instances/{instance.pk}/").status_code == 403
    assert (
        client.post("/api/v1/instances/", {"type": "chat", "name": "x", "plan": "small"}, format="json").status_code
        == 403
    )


def test_share_with_another_org_bind_then_unshare_revokes(
    api, owner, outsider, other_org, chat_type, cluster, kubeconfig, kube, kube_namespace
):
    run(provision(api)["id"])
    instance = Instance.objects.get(name="chat-a")
    response = api.post(f"/api/v1/instances/{instance.pk}/shares/", {"org": "globex"}, format="json")
    assert response.status_code == 201
    share_id = response.json()["id"]

    Cluster.objects.create(org=other_org, name="theirs", kubeconfig=kubeconfig, default_namespace=kube_namespace)
    consumer(kube, kube_namespace, "callcenter")
    client = api_client_for(outsider)
    shared = client.get("/api/v1/shared-instances/").json()["results"]
    assert shared == [{"id": str(instance.pk), "name": "chat-a", "org": "acme", "type": "chat", "state": "ready"}]
    assert client.get(f"/api/v1/instances/{instance.pk}/").status_code == 404  # no parameters, no operations
    response = client.post(
        f"/api/v1/instances/{instance.pk}/bindings/", {"app": "deployment/callcenter"}, format="json"
    )
    assert response.status_code == 202, response.content
    assert run(response.json()["id"]).state == "succeeded"
    binding = Binding.objects.get(name="callcenter")
    assert binding.org == other_org and binding.app_cluster.name == "theirs"
    assert client.get("/api/v1/operations/", {"org": "acme"}).json()["count"] == 0
    assert [b["name"] for b in client.get(f"/api/v1/instances/{instance.pk}/bindings/").json()["results"]] == [
        "callcenter"
    ]

    refused = api.delete(f"/api/v1/instances/{instance.pk}/shares/{share_id}/")
    assert refused.status_code == 400
    assert "Unsharing revokes 1 binding(s): callcenter (Globex)" in refused.json()["error"]["message"]
    done = api.delete(f"/api/v1/instances/{instance.pk}/shares/{share_id}/?confirm=true")
    assert done.status_code == 200 and len(done.json()["revoked"]) == 1
    assert run(done.json()["revoked"][0]["id"]).state == "succeeded"
    assert kube.get_or_none("v1", "Secret", binding.secret_name, kube_namespace) is None
    assert client.get("/api/v1/shared-instances/").json()["count"] == 0
    assert (
        client.post(
            f"/api/v1/instances/{instance.pk}/bindings/", {"app": "deployment/callcenter"}, format="json"
        ).status_code
        == 404
    )


@pytest.mark.parametrize("count", [1, 12])
def test_instance_list_query_count_is_constant(
    api, owner, org, chat_type, cluster, count, django_assert_max_num_queries
):
    version, plan = chat_type.versions.get(), chat_type.plans.first()
    Instance.objects.bulk_create(
        Instance(
            org=org,
            name=f"i{n}",
            type=chat_type,
            version=version,
            plan=plan,
            cluster=cluster,
            namespace="x",
            state="ready",
        )
        for n in range(count)
    )
    with django_assert_max_num_queries(5):
        assert api.get("/api/v1/instances/").json()["count"] == count


def test_status_refresh_lists_per_kind_and_tracks_moving_addresses(api, chat_type, cluster, kube, kube_namespace):
    from instances.status import refresh_cluster

    for name in ("chat-a", "chat-b", "chat-c"):
        run(provision(api, name=name)["id"])
    result = refresh_cluster(cluster)
    assert result == {"instances": 3, "lists": 2, "changed": 3}  # Deployments + Services, whatever the count
    assert set(Instance.objects.values_list("healthy", flat=True)) == {True}
    # Someone deletes a Service: its instance is flagged; the others are untouched.
    kube.delete(kube_refs_for("v1", "Service", "chat-b", kube_namespace))
    result = refresh_cluster(cluster)
    assert result["lists"] == 2 and result["changed"] == 1
    broken = Instance.objects.get(name="chat-b")
    assert broken.healthy is False and "Service/chat-b: missing from the cluster" in broken.health_message
    # The Service comes back with a new address: the output follows it.
    old_host = broken.outputs["host"]
    run(api.patch(f"/api/v1/instances/{broken.pk}/", {"parameters": {"port": 81}}, format="json").json()["id"])
    refresh_cluster(cluster)
    broken.refresh_from_db()
    assert broken.healthy is True and broken.outputs["port"] == 81 and broken.outputs["host"] != old_host


def kube_refs_for(api_version, kind, name, namespace):
    import kube as kube_module

    return kube_module.Ref(api_version, kind, name, namespace)
