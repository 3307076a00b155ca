"""Making a type from running objects: YAML uploads, and a live cluster (the real local API server)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ValidationError

from catalog import importer, services
from catalog.parameters import validate_parameters
from catalog.rendering import render_manifests
from conftest import api_client_for
from portal import operations
from portal.models import Operation

OBJECTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: chat
  namespace: team-chat
  uid: 0c5e1d8e
  resourceVersion: "4711"
  generation: 3
  creationTimestamp: "2025-01-01T00:00:00Z"
  labels: {app: chat, tier: web}
  annotations:
    deployment.kubernetes.io/revision: "3"
    kubectl.kubernetes.io/last-applied-configuration: "{}"
    team: chat
  managedFields: [{manager: kubectl, operation: Apply}]
spec:
  replicas: 2
  selector: {matchLabels: {app: chat}}
  template:
    metadata:
      labels: {app: chat}
      creationTimestamp: null
    spec:
      containers:
      - name: chat
        image: registry.acme.example/chat:1.4.2
        ports: [{containerPort: 3000, name: http, protocol: TCP}]
        env:
        - {name: LOG_LEVEL, value: info}
        - {name: GREETING, value: "Hello {{ user }}"}
        - name: DB_PASSWORD
          valueFrom: {secretKeyRef: {name: chat-db, key: password}}
        envFrom: [{configMapRef: {name: chat-config}}]
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 1, memory: 256Mi}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
status: {replicas: 2, readyReplicas: 2}
---
apiVersion: v1
kind: Service
metadata: {name: chat, namespace: team-chat, uid: 1a2b}
spec:
  type: NodePort
  clusterIP: 10.96.0.12
  clusterIPs: [10.96.0.12]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  selector: {app: chat}
  ports: [{name: http, port: 80, targetPort: http, nodePort: 31234, protocol: TCP}]
  sessionAffinity: None
status: {loadBalancer: {}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: chat-config}
data:
  MOTD: "Welcome to {% raw %}chat{% endraw %}"
  app.properties: |
    rooms=general,random
---
apiVersion: v1
kind: Secret
metadata: {name: chat-db}
data: {password: c2VjcmV0}
---
apiVersion: v1
kind: Pod
metadata:
  name: chat-7d9-abc
  ownerReferences: [{kind: ReplicaSet, name: chat-7d9, controller: true, apiVersion: apps/v1, uid: x}]
spec: {containers: [{name: chat, image: x}]}
"""


def test_server_set_fields_are_stripped_and_secrets_never_read():
    source = importer.objects_from_yaml(OBJECTS)
    kinds = [(o["kind"], o["metadata"]["name"]) for o in source.objects]
    assert kinds == [("Deployment", "chat"), ("Service", "chat"), ("ConfigMap", "chat-config")]
    deployment, service, _ = source.objects
    assert set(deployment["metadata"]) == {"name", "labels", "annotations"}
    assert deployment["metadata"]["annotations"] == {"team": "chat"}
    assert "status" not in deployment and "creationTimestamp" not in deployment["spec"]["template"]["metadata"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "terminationMessagePath" not in container and container["resources"]["limits"]["cpu"] == "1"
    assert set(deployment["spec"]["template"]["spec"]) == {"containers"}
    assert "clusterIP" not in service["spec"] and "nodePort" not in service["spec"]["ports"][0]
    assert "sessionAffinity" not in service["spec"]
    assert "c2VjcmV0" not in str(source.objects)
    assert any("Secret chat-db skipped" in note for note in source.notes)
    assert any("Pod chat-7d9-abc skipped" in note for note in source.notes)
    assert {"kind": "Secret", "name": "chat-db", "used_by": "Deployment chat"} in source.references


def test_proposals_have_types_and_current_values():
    preview = importer.preview(importer.objects_from_yaml(OBJECTS))
    proposals = {p["name"]: p for p in preview["proposals"]}
    assert preview["base_name"] == "chat"
    assert proposals["replicas"]["type"] == "integer" and proposals["replicas"]["default"] == 2
    assert proposals["image_tag"]["default"] == "1.4.2" and proposals["image_tag"]["selected"]
    assert proposals["env.LOG_LEVEL"]["default"] == "info"
    assert proposals["resources.limits.cpu"]["format"] == "k8s-quantity"
    assert proposals["port"]["default"] == 80 and proposals["port"]["maximum"] == 65535
    assert proposals["service_type"]["enum"] == ["ClusterIP", "NodePort", "LoadBalancer"]
    assert not proposals["service_type"]["selected"]
    assert proposals["config.app_properties"]["default"] == "rooms=general,random\n"


@pytest.mark.parametrize("selection", [None, [], ["replicas", {"name": "image_tag", "pattern": "^1\\."}]])
def test_the_template_renders_back_to_the_original_objects(selection, owner, org, team):
    source = importer.objects_from_yaml(OBJECTS)
    version = services.import_type(
        actor=owner, org=org, owner_team=team, slug="chat", name="Chat", objects=source.objects, selections=selection
    )
    services.publish_version(actor=owner, version=version)  # names derive from the instance name: no collisions
    version.refresh_from_db()
    version.type = version.type
    values = validate_parameters(version, None, {})
    objects = render_manifests(version, values, instance_name="chat", namespace="team-chat", labels={})
    expected = copy.deepcopy(source.objects)
    for obj in expected:
        obj["metadata"]["namespace"] = "team-chat"
    assert objects == expected
    other = render_manifests(version, values, instance_name="chat-two", namespace="team-chat", labels={})
    assert [o["metadata"]["name"] for o in other] == ["chat-two", "chat-two", "chat-two-config"]
    assert other[0]["spec"]["selector"]["matchLabels"] == {"app": "chat-two"}
    assert (
        other[0]["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"] == "chat-two-config"
    )
    assert (
        other[0]["spec"]["template"]["spec"]["containers"][0]["env"][2]["valueFrom"]["secretKeyRef"]["name"]
        == "chat-db"
    )
    assert other[1]["spec"]["selector"] == {"app": "chat-two"}


def test_chosen_parameters_change_the_rendered_objects(owner, org, team):
    source = importer.objects_from_yaml(OBJECTS)
    version = services.import_type(
        actor=owner,
        org=org,
        owner_team=team,
        slug="chat",
        name="Chat",
        objects=source.objects,
        selections=[{"name": "replicas", "minimum": 1, "maximum": 3}, "image_tag", "resources.limits.cpu"],
    )
    schema = version.parameter_schema
    assert schema["properties"]["replicas"]["maximum"] == 3
    assert schema["properties"]["resources"]["properties"]["limits"]["properties"]["cpu"]["default"] == "1"
    values = validate_parameters(
        version, None, {"replicas": 3, "image_tag": "1.5.0", "resources": {"limits": {"cpu": "2"}}}
    )
    deployment = render_manifests(version, values, instance_name="c", namespace="n", labels={})[0]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.acme.example/chat:1.5.0"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "2"
    with pytest.raises(ValidationError):
        validate_parameters(version, None, {"replicas": 4})


def test_bad_uploads():
    for text, fragment in (
        ("a: &x [1]\nb: *x\n", "aliases"),
        ("[" * 5000, "nested too deeply"),
        ("apiVersion: v1\nkind: Service\n", "metadata missing"),
        ("x" * (1024 * 1024 + 1), "larger than 1024 KiB"),
        ("apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n", "Nothing to import"),
        ("---\n---\n", "Nothing to import"),
    ):
        with pytest.raises(ValidationError) as info:
            importer.objects_from_yaml(text)
        assert fragment in str(info.value), (fragment, info.value)
    with pytest.raises(ValidationError, match="not a proposed parameter"):
        importer.build_draft(importer.objects_from_yaml(OBJECTS).objects, ["nope"])


def test_import_is_all_or_nothing(owner, org, team):
    from catalog.models import ServiceType

    source = importer.objects_from_yaml(OBJECTS)
    with pytest.raises(ValidationError):
        services.import_type(
            actor=owner, org=org, owner_team=team, slug="chat", name="Chat", objects=source.objects, selections=["nope"]
        )
    services.create_type(actor=owner, org=org, owner_team=team, slug="taken", name="Taken")
    with pytest.raises(ValidationError):
        services.import_type(
            actor=owner, org=org, owner_team=team, slug="taken", name="X", objects=source.objects, selections=None
        )
    assert list(ServiceType.objects.values_list("slug", flat=True)) == ["taken"]


def test_import_over_the_api(api):
    response = api.post("/api/v1/types/import/preview/", {"yaml": OBJECTS}, format="json")
    assert response.status_code == 200 and response.json()["base_name"] == "chat"
    response = api.post(
        "/api/v1/types/import/",
        {
            "yaml": OBJECTS,
            "slug": "chat",
            "name": "Chat",
            "parameters": ["replicas", {"name": "port", "maximum": 8080}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["version_list"][0]["state"] == "draft"
    schema = api.get("/api/v1/types/chat/versions/1.0.0/").json()["parameter_schema"]
    assert set(schema["properties"]) == {"replicas", "port"} and schema["properties"]["port"]["maximum"] == 8080
    response = api.post(
        "/api/v1/types/import/", {"yaml": "a: &x 1\nb: *x", "slug": "bad", "name": "Bad"}, format="json"
    )
    assert response.status_code == 400 and "aliases" in response.json()["error"]["fields"]["yaml"][0]


# --- from a live cluster --------------------------------------------------------------------


@pytest.fixture
def cluster(org, kube_cluster):
    from instances.models import Cluster

    return Cluster.objects.create(org=org, name="local", kubeconfig=Path(kube_cluster).read_text())


@pytest.fixture
def running_chat(kube, kube_namespace):
    """The chat app as someone deployed it by hand: Deployment, Service, ConfigMap, a Secret."""
    docs = [d for d in yaml.safe_load_all(OBJECTS) if d["kind"] in ("Deployment", "Service", "ConfigMap", "Secret")]
    for doc in docs:
        doc["metadata"] = {k: v for k, v in doc["metadata"].items() if k in ("name", "labels", "annotations")}
        doc.pop("status", None)
        if doc["kind"] == "Service":
            doc["spec"] = {k: v for k, v in doc["spec"].items() if k not in ("clusterIP", "clusterIPs")}
            doc["spec"]["ports"][0].pop("nodePort")
    kube.apply(docs, namespace=kube_namespace)
    return kube_namespace


def read(owner, cluster, namespace, **what) -> dict:
    op = services.read_cluster_for_import(actor=owner, cluster=cluster, namespace=namespace, **what)
    operations.execute(op.pk)
    op = Operation.objects.get(pk=op.pk)
    assert op.state == "succeeded", op.error
    return op.result


@pytest.mark.parametrize("what", [{"service": "chat"}, {"deployment": "chat"}, {"selector": "app=chat"}])
def test_import_from_a_live_cluster(what, owner, org, team, cluster, running_chat, kube):
    preview = read(owner, cluster, running_chat, **what)
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in preview["objects"])
    expected = [("ConfigMap", "chat-config"), ("Deployment", "chat"), ("Service", "chat")]
    if "selector" in what:  # the Service carries no app=chat label itself
        expected.remove(("Service", "chat"))
    assert kinds == expected
    text = str(preview["objects"])
    for server_field in (
        "resourceVersion",
        "uid",
        "managedFields",
        "creationTimestamp",
        "clusterIP",
        "nodePort",
        "status",
    ):
        assert server_field not in text, server_field
    assert {"kind": "Secret", "name": "chat-db", "used_by": "Deployment chat"} in preview["references"]
    assert "c2VjcmV0" not in text
    version = services.import_type(
        actor=owner, org=org, owner_team=team, slug="chat", name="Chat", objects=preview["objects"], selections=None
    )
    services.publish_version(actor=owner, version=version)
    values = validate_parameters(version, None, {})
    rendered = render_manifests(version, values, instance_name="chat", namespace=running_chat, labels={})
    assert rendered == [{**o, "metadata": {**o["metadata"], "namespace": running_chat}} for o in preview["objects"]]
    # a second instance from the type is accepted by the API server next to the original
    copy_objects = render_manifests(
        version,
        values,
        instance_name="chat-copy",
        namespace=running_chat,
        labels={"app.kubernetes.io/instance": "chat-copy"},
    )
    stored = kube.apply(copy_objects)
    renamed = [o["metadata"]["name"].replace("chat", "chat-copy", 1) for o in preview["objects"]]
    assert [o["metadata"]["name"] for o in stored] == renamed
    assert all(o["metadata"]["uid"] for o in stored)


def test_import_from_a_cluster_over_the_api(api, cluster, running_chat):
    response = api.post(
        "/api/v1/types/import/preview/",
        {"cluster": "local", "namespace": running_chat, "service": "chat"},
        format="json",
    )
    assert response.status_code == 202 and response.json()["kind"] == "type.read_cluster"
    operations.execute(response.json()["id"])
    result = api.get(f"/api/v1/operations/{response.json()['id']}/").json()["result"]
    response = api.post(
        "/api/v1/types/import/", {"objects": result["objects"], "slug": "chat", "name": "Chat"}, format="json"
    )
    assert response.status_code == 201
    response = api.post(
        "/api/v1/types/import/preview/",
        {"cluster": "local", "namespace": running_chat, "service": "nope"},
        format="json",
    )
    operations.execute(response.json()["id"])
    op = api.get(f"/api/v1/operations/{response.json()['id']}/").json()
    assert op["state"] == "failed" and "There is no Service 'nope'" in op["error"]
    assert api_client_for(None).post("/api/v1/types/import/preview/", {}).status_code == 401
