"""sbay provision / update / bind / unbind / deprovision against a live server, a real worker and cluster."""

from __future__ import annotations

import json
import time

import pytest

from instances.models import Instance
from portal.models import Operation
from portal.services import create_api_token
from sbay.cli import main as sbay

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("chat_type", "cluster")]


@pytest.fixture
def cli(live_server, owner, tmp_path, monkeypatch, capsys, worker_factory):
    worker_factory()
    monkeypatch.setenv("SBAY_CONFIG", str(tmp_path / "cfg.json"))
    _, key = create_api_token(user=owner, name="cli")
    assert sbay(["login", "--url", live_server.url, "--token", key]) == 0
    capsys.readouterr()

    def run(*argv):
        code = sbay(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_journey(cli, kube, kube_namespace, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("tag: '2.0'\nadmin_password: s3cret-enough\n")
    code, out, err = cli(
        "provision", "chat", "chat-c", "--plan", "small", "-f", str(params), "-p", "port=8080", "--wait"
    )
    assert code == 0, err + out
    assert "Provisioning chat-c into local/" in out and "Ready; outputs: host, port" in out
    live = kube.get("apps/v1", "Deployment", "chat-c", kube_namespace)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "example/chat:2.0"

    code, out, _ = cli("instances")
    assert code == 0 and "chat-c" in out and "ready" in out
    code, out, _ = cli("describe", "chat-c", "-o", "json")
    detail = json.loads(out)
    assert detail["parameters"]["admin_password"] == "********" and detail["outputs"]["port"] == 8080

    code, out, _ = cli("update", "chat-c", "--plan", "large", "--dry-run")
    assert code == 0 and "+  replicas: 3" in out and "s3cret-enough" not in out
    code, out, err = cli("update", "chat-c", "-p", "replicas=9")
    assert code == 5 and "/replicas" in err
    code, out, _ = cli("update", "chat-c", "--plan", "large", "--wait")
    assert code == 0, out
    assert kube.get("apps/v1", "Deployment", "chat-c", kube_namespace)["spec"]["replicas"] == 3

    kube.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "chat", "namespace": kube_namespace},
            "spec": {
                "selector": {"matchLabels": {"app": "chat"}},
                "template": {
                    "metadata": {"labels": {"app": "chat"}},
                    "spec": {"containers": [{"name": "chat", "image": "example/node:20"}]},
                },
            },
        },
        field_manager="kubectl",
    )
    code, out, err = cli("bind", "chat-c", "--app", "deployment/chat", "-n", kube_namespace, "--wait")
    assert code == 0, err + out
    assert "Credentials (shown once" in out and "password" in out and "uri" in out
    code, out, _ = cli("unbind", "chat-c", "chat", "--wait")
    assert code == 0 and kube.get_or_none("v1", "Secret", "chat-c-chat-binding", kube_namespace) is None
    code, out, _ = cli("deprovision", "chat-c", "--wait")
    assert code == 0
    assert kube.get_or_none("apps/v1", "Deployment", "chat-c", kube_namespace) is None
    code, _, err = cli("describe", "chat-c")
    assert code == 4


def test_cli_usage_errors(cli):
    assert cli("provision", "chat", "x", "-p", "novalue")[0] == 2
    assert cli("provision", "chat", "x", "-f", "/nonexistent.yaml")[0] == 2
    code, _, err = cli("provision", "nope", "x", "--plan", "small")
    assert code == 4


def test_worker_killed_mid_provision_resumes_and_ends_once(worker_factory, api, kube, kube_namespace):
    # The cli fixture is not used here: this test drives its own workers.
    first = worker_factory()
    body = api.post("/api/v1/instances/", {"type": "chat", "name": "chat-k", "plan": "small"}, format="json").json()
    deadline = time.monotonic() + 60
    while not Operation.objects.filter(pk=body["id"], state="in_progress").exists():
        assert time.monotonic() < deadline, first.log()[-2000:]
        time.sleep(0.05)
    first.kill()
    assert Operation.objects.get(pk=body["id"]).state == "in_progress"  # killed mid-operation
    second = worker_factory(beat=True)
    deadline = time.monotonic() + 90
    while not Operation.objects.get(pk=body["id"]).is_terminal:
        assert time.monotonic() < deadline, second.log()[-2000:]
        time.sleep(0.2)
    op = Operation.objects.get(pk=body["id"])
    assert op.state == "succeeded", op.error
    instance = Instance.objects.get(name="chat-k")
    assert instance.state == "ready" and instance.outputs["port"] == 80
    messages = list(op.steps.values_list("message", flat=True))
    assert messages.count("Succeeded") == 1
    assert op.attempts == 2
    assert "The worker stopped sending heartbeats; the operation was queued again" in messages
    assert kube.get("apps/v1", "Deployment", "chat-k", kube_namespace)["spec"]["replicas"] == 1
