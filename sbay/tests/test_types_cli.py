"""`sbay types`, `sbay plans`, `sbay services` against a live server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from catalog.demo import CHAT_MANIFESTS, CHAT_SCHEMA
from catalog.models import Plan, ServiceType, TypeVersion
from catalog.tests.conftest import make_chat
from portal import services
from sbay.cli import main
from sbay.commands.types import collect_parameters, parse_param_spec, typed_value

PASSWORD = "correct horse battery"


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SBAY_CONFIG", str(tmp_path / "sbay.json"))
    for name in ("SBAY_URL", "SBAY_TOKEN", "SBAY_ORG"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def sbay(cli, live_server, owner):
    _, key = services.create_api_token(user=owner, name="cli")
    assert cli("login", "--url", live_server.url, "--token", key)[0] == 0
    return cli


def test_parameters_are_typed_by_the_schema():
    schema = {
        "type": "object",
        "properties": {
            "tag": {"type": "string"},
            "replicas": {"type": "integer"},
            "ratio": {"type": "number"},
            "debug": {"type": "boolean"},
            "hosts": {"type": "array", "items": {"type": "string"}},
            "ports": {"type": "array", "items": {"type": "integer"}},
            "labels": {"type": "object"},
            "resources": {
                "type": "object",
                "properties": {"limits": {"type": "object", "properties": {"cpu": {"type": "string"}}}},
            },
        },
    }
    values = collect_parameters(
        [
            "tag=010",
            "replicas=3",
            "ratio=0.5",
            "debug=yes",
            "hosts=a.example,b.example",
            "ports=[80, 443]",
            "labels={team: chat}",
            "resources.limits.cpu=1",
            "unknown=true",
            "replicas=three",
        ][:-1],
        [],
        schema,
    )
    assert values == {
        "tag": "010",
        "replicas": 3,
        "ratio": 0.5,
        "debug": True,
        "hosts": ["a.example", "b.example"],
        "ports": [80, 443],
        "labels": {"team": "chat"},
        "resources": {"limits": {"cpu": "1"}},
        "unknown": True,
    }
    assert typed_value("three", {"type": "integer"}) == "three"  # the server names the problem
    assert parse_param_spec("replicas:min=1,max=5") == {"name": "replicas", "minimum": 1, "maximum": 5}
    assert parse_param_spec("level:enum=debug|info") == {"name": "level", "enum": ["debug", "info"]}


def test_list_get_and_plans(sbay, owner, org, team):
    code, out, _ = sbay("types", "list")
    assert code == 0 and "No types" in out and "sbay types import" in out
    make_chat(owner, org, team)
    code, out, _ = sbay("types", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["SLUG", "NAME", "LATEST"]
    assert lines[1].split()[:4] == ["chat", "Chat", "1.0.0", "small,large"]
    assert sbay("types", "list", "--search", "nothing-like-this")[1].startswith("No types")
    code, out, _ = sbay("types", "get", "chat")
    assert code == 0 and "1.0.0          published" in out and "deploy: sbay provision chat NAME --plan small" in out
    assert "resources.limits.cpu" in out and "admin_password" in out and "secret" in out
    code, out, _ = sbay("types", "get", "chat", "-o", "json")
    assert json.loads(out)["parameter_schema"]["properties"]["replicas"]["maximum"] == 10
    code, out, _ = sbay("plans", "list", "chat")
    assert code == 0 and out.splitlines()[1].split()[:2] == ["small", "Small"] and "replicas, resources" in out
    code, out, err = sbay("plans", "create", "chat", "medium", "-p", "replicas=2", "--lock", "replicas")
    assert code == 0, err
    assert Plan.objects.get(slug="medium").values == {"replicas": 2}
    code, _, err = sbay("plans", "create", "chat", "huge", "-p", "replicas=99")
    assert code == 5 and "values: /replicas: Must be at most 10." in err
    assert sbay("types", "get", "nope")[0] == 4


def test_create_version_and_publish(sbay, tmp_path):
    manifests = tmp_path / "chat.yaml.j2"
    manifests.write_text(CHAT_MANIFESTS.replace("parameters.port", "parameters.prot"))
    schema = tmp_path / "schema.yaml"
    schema.write_text(yaml.safe_dump(CHAT_SCHEMA))
    code, out, err = sbay(
        "types",
        "create",
        "chat",
        "--name",
        "Chat",
        "--tag",
        "chat",
        "--version",
        "1.0.0",
        "--manifests",
        str(manifests),
        "--schema",
        str(schema),
    )
    assert code == 0, err
    assert (
        "Created type chat owned by acme/chat (org)." in out and "Publish it with: sbay types publish chat 1.0.0" in out
    )
    code, _, err = sbay("types", "publish", "chat", "1.0.0")
    assert code == 5 and "manifests_template: with the defaults: line 50: undefined value" in err
    assert TypeVersion.objects.get().state == "draft"
    manifests.write_text(CHAT_MANIFESTS)
    code, out, err = sbay("types", "version", "chat", "1.0.1", "--from", "1.0.0", "--manifests", str(manifests))
    assert code == 0 and "Draft 1.0.1 of chat saved" in out
    code, out, _ = sbay("types", "publish", "chat", "1.0.1")
    assert code == 0 and out.strip() == "Published chat 1.0.1."
    code, _, err = sbay("types", "publish", "chat", "1.0.1")
    assert code == 5 and "state: Version 1.0.1 is already published." in err
    code, _, err = sbay("types", "create", "chat")
    assert code == 5 and "already exists" in err
    code, out, _ = sbay("types", "share", "chat", "--visibility", "orgs", "--with", "globex")
    assert code == 5  # globex does not exist here
    code, out, _ = sbay("types", "share", "chat", "--visibility", "team")
    assert code == 0 and "chat is now visible to: team." in out
    assert ServiceType.objects.get().visibility == "team"


def test_validate_names_json_pointers(sbay, owner, org, team, tmp_path):
    make_chat(owner, org, team)
    code, out, err = sbay(
        "types", "validate", "chat", "--plan", "large", "-p", f"admin_password={PASSWORD}", "-p", "replicas=4"
    )
    assert code == 0, err
    assert "Valid for chat 1.0.0 plan large:" in out and "replicas: 4" in out and "admin_password: '********'" in out
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"admin_password": "short", "resources": {"limits": {"cpu": "lots"}}}))
    code, out, err = sbay(
        "types", "validate", "chat", "-f", str(params), "-p", "replicas=eleven", "-p", "image_tag=010"
    )
    assert code == 5
    assert "/admin_password: Must be at least 12 characters long." in err
    assert "/replicas: Must be a whole number." in err
    assert "/resources/limits/cpu: Must be a valid Kubernetes quantity" in err
    assert "/image_tag: Must match the pattern" in err  # "010" was sent as text, as the schema says
    assert "short" not in err
    code, _, err = sbay(
        "types", "validate", "chat", "--plan", "small", "-p", "replicas=2", "-p", f"admin_password={PASSWORD}"
    )
    assert code == 5 and "/replicas: Locked by plan Small (1)" in err
    assert sbay("types", "validate", "chat", "-p", "oops")[0] == 2


OBJECTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, uid: x, resourceVersion: "9"}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27", resources: {limits: {cpu: 250m}}}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {clusterIP: 10.0.0.1, selector: {app: web}, ports: [{port: 80}]}
"""


def test_import_from_a_file(sbay, tmp_path):
    source = tmp_path / "web.yaml"
    source.write_text(OBJECTS)
    code, out, err = sbay("types", "import", "web", "--from-file", str(source), "--dry-run")
    assert code == 0, err
    assert "Deployment web" in out and " * replicas " in out and " * image_tag " in out
    assert not ServiceType.objects.exists()
    code, out, err = sbay(
        "types", "import", "web", "--from-file", str(source), "--param", "replicas:min=1,max=4", "--param", "image_tag"
    )
    assert code == 0, err
    assert "Created type web with draft 1.0.0" in out and "Parameters: replicas, image_tag" in out
    assert sbay("types", "publish", "web", "1.0.0")[0] == 0
    schema = TypeVersion.objects.get(type__slug="web").parameter_schema
    assert schema["properties"]["replicas"]["maximum"] == 4 and set(schema["properties"]) == {"replicas", "image_tag"}
    code, _, err = sbay("types", "import", "web2", "--from-file", str(source), "--param", "gpus")
    assert code == 5 and "'gpus' is not a proposed parameter" in err


def test_register_and_list_services(sbay):
    code, out, err = sbay("services", "register", "crm", "--address", "crm.acme.example:8443")
    assert code == 0 and "Registered crm: crm.acme.example:8443." in out, err
    code, out, _ = sbay("services", "list")
    assert "crm.acme.example:8443" in out and "external" in out
    assert sbay("services", "register", "x", "--address", "nope")[0] == 2


@pytest.mark.worker
def test_import_from_a_cluster(sbay, worker_factory, org, kube, kube_namespace, kube_cluster, owner):
    from instances.models import Cluster

    Cluster.objects.create(org=org, name="local", kubeconfig=Path(kube_cluster).read_text())
    docs = [d for d in yaml.safe_load_all(OBJECTS)]
    for doc in docs:
        doc["metadata"] = {"name": doc["metadata"]["name"]}
        doc["spec"].pop("clusterIP", None)
    kube.apply(docs, namespace=kube_namespace)
    worker_factory()
    code, out, err = sbay(
        "types", "import", "web", "--cluster", "local", "--namespace", kube_namespace, "--service", "web"
    )
    assert code == 0, err
    assert f"from service web in namespace {kube_namespace}" in out
    version = TypeVersion.objects.get(type__slug="web")
    assert "resourceVersion" not in version.manifests_template and "clusterIP" not in version.manifests_template
    assert set(version.parameter_schema["properties"]) == {"replicas", "image_tag", "resources", "port"}
