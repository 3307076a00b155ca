"""Two Servicebays: A (a real gunicorn + a real Celery worker on a database of its own) offers its chat
type over OSB; B (this test process, on the test database) registers A's /osb endpoint as a broker,
sees the type in its catalog, provisions it — A deploys it into the local Kubernetes control plane —
binds an app of B, whose servicebinding Secret receives the credentials A's binding template rendered.
Then A publishes a new version of the type: after B's next sync, B's plan shows the new maintenance_info.
"""

from __future__ import annotations

import base64
import os

import httpx
import pytest

from catalog import brokers
from catalog.models import Broker, Plan, ServiceType
from instances import services
from instances.models import Binding, Instance
from instances.tests.conftest import MANIFESTS, SCHEMA
from instances.tests.test_instances import consumer
from osbapi.tests.servicebay_process import ServicebayProcess
from portal import operations
from portal.models import Operation

pytestmark = pytest.mark.worker

SEED = """
import json, os
from django.contrib.auth import get_user_model
from catalog.models import Plan, ServiceType, TypeVersion
from instances.models import Cluster
from instances.tests.conftest import BINDING, MANIFESTS, OUTPUTS, SCHEMA
from osbapi.services import create_platform_credential
from portal.models import Membership, Organization, Role, Team
from portal.services import create_api_token

org = Organization.objects.create(slug="vendor", name="Vendor")
team = Team.objects.create(org=org, slug="chat", name="Chat")
owner = get_user_model().objects.create_user("vendor-owner", "o@example.com", "pw-not-used-here")
Membership.objects.create(org=org, user=owner, role=Role.ADMIN).teams.add(team)
Cluster.objects.create(org=org, name="local", kubeconfig=open(os.environ["KUBECONFIG"]).read(),
                       default_namespace=os.environ["A_NAMESPACE"], reachable=True)
chat = ServiceType.objects.create(org=org, owner_team=team, slug="chat", name="Chat", visibility="org",
                                  description="Team chat", osb_enabled=True)
TypeVersion.objects.create(type=chat, version="1.0.0", state="published", manifests_template=MANIFESTS,
                           parameter_schema=SCHEMA, outputs=OUTPUTS, binding_template=BINDING, changelog="First")
Plan.objects.create(type=chat, slug="small", name="Small", values={"replicas": 1, "cpu": "100m"},
                    locked=["replicas", "cpu"], order=1)
credential, secret = create_platform_credential(actor=owner, org=org, name="servicebay-b")
_, token = create_api_token(user=owner, name="federation")
print(json.dumps({"username": credential.username, "secret": secret, "token": token}))
"""


NEW_SCHEMA = {
    "type": "object",
    "properties": {
        **SCHEMA["properties"],
        "admin_password": {"type": "string", "writeOnly": True, "minLength": 8},  # secrets have no default
    },
}


NEW_MANIFESTS = MANIFESTS.replace("{{ parameters.admin_password }}", "{{ parameters.admin_password | default('') }}")


def wait_for(predicate, timeout: float, what: str, log: str = ""):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{log}")


@pytest.fixture
def a_namespace(kube):
    name = f"fed-a-{os.urandom(3).hex()}"
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    kube.delete(__import__("kube").Ref("v1", "Namespace", name, None))


@pytest.fixture
def servicebay_a(tmp_path, kube_cluster, a_namespace):
    a = ServicebayProcess("a", tmp_path, env={"KUBECONFIG": kube_cluster, "A_NAMESPACE": a_namespace})
    a.create_database()
    try:
        a.seed = a.shell(SEED)
        a.start_web(workers=2).start_worker()
        yield a
    finally:
        a.stop()
        a.drop_database()


def test_servicebay_b_consumes_servicebay_a_over_osb(
    servicebay_a, owner, org, team, cluster, kube, kube_namespace, a_namespace, api
):
    a = servicebay_a
    seed = a.seed

    # B registers A's OSB endpoint as a broker; the first sync runs here (as a worker would).
    broker, sync = brokers.register_broker(
        actor=owner, org=org, name="vendor-a", url=f"{a.url}/osb", auth_kind="basic",
        username=seed["username"], secret=seed["secret"],
    )  # fmt: skip
    operations.execute(sync.pk)
    assert Operation.objects.get(pk=sync.pk).state == "succeeded", Operation.objects.get(pk=sync.pk).error

    # B's catalog (marketplace) shows A's type with its plan and A's version as maintenance_info.
    listed = api.get("/api/v1/types/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    chat_b = ServiceType.objects.get(broker=broker)
    assert chat_b.slug in [row["slug"] for row in rows]
    small = Plan.objects.get(type=chat_b, slug="small")
    assert small.maintenance_info == {"version": "1.0.0", "description": "First"}
    assert chat_b.versions.get().parameter_schema["properties"]["port"]["maximum"] == 65535

    # B provisions: B's broker engine asks A (202, polls last_operation); A's worker deploys the type.
    instance, op = services.provision_instance(
        actor=owner, org=org, service_type=chat_b, name="support-chat", plan=small, parameters={"port": 8081}
    )
    done = run_inline(op.pk)
    assert done.state == "succeeded", f"{done.error}\n{a.log('worker')[-3000:]}"
    steps = list(done.steps.values_list("message", flat=True))
    assert "The broker is provisioning asynchronously; polling last_operation" in steps
    deployments = kube.list("apps/v1", "Deployment", a_namespace, label_selector="app.kubernetes.io/name=chat")
    assert len(deployments) == 1, "A deployed the chat type into its cluster"
    service = kube.list("v1", "Service", a_namespace, label_selector="app.kubernetes.io/name=chat")[0]
    assert service["spec"]["ports"][0]["port"] == 8081

    # A shows the instance under the platform, with its operations, and audited the originating identity.
    a_view = a.shell(
        "import json\nfrom instances.models import Instance\nfrom portal.models import AuditEvent\n"
        "i = Instance.objects.get()\n"
        "e = AuditEvent.objects.filter(action='osb.provision').get()\n"
        "print(json.dumps({'platform': i.platform.name, 'osb_id': i.osb_instance_id, 'state': i.state,"
        " 'org': i.org.slug, 'identity': e.changes['originating_identity'], 'via': e.via}))"
    )
    assert a_view["platform"] == "servicebay-b" and a_view["osb_id"] == str(instance.pk)
    assert a_view["state"] == "ready" and a_view["org"] == "vendor" and a_view["via"] == "osb"
    assert a_view["identity"]["platform"] == "servicebay"
    assert a_view["identity"]["value"]["username"] == owner.username

    # B binds an app of B's: the credentials come from A's binding template into B's Secret.
    consumer(kube, kube_namespace)
    binding, op = services.bind_instance(
        actor=owner, instance=Instance.objects.get(pk=instance.pk), app="deployment/consumer"
    )
    done = run_inline(op.pk)
    assert done.state == "succeeded", f"{done.error}\n{a.log('worker')[-3000:]}"
    secret = kube.get("v1", "Secret", "support-chat-consumer-binding", kube_namespace)
    files = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert files["host"] == service["spec"]["clusterIP"] and files["port"] == "8081"
    assert files["uri"] == f"http://{service['spec']['clusterIP']}:8081" and len(files["password"]) == 20
    spec = kube.get("apps/v1", "Deployment", "consumer", kube_namespace)["spec"]["template"]["spec"]
    assert spec["volumes"][0]["secret"]["secretName"] == "support-chat-consumer-binding"

    # A publishes a new version (REST API, as its owner): after B's next sync, B's plan shows it.
    auth = {"Authorization": f"Bearer {seed['token']}"}
    created = httpx.post(
        f"{a.url}/api/v1/types/chat/versions/", headers=auth,
        json={"version": "1.1.0", "copy_from": "1.0.0", "changelog": "Faster chat", "parameter_schema": NEW_SCHEMA,
              "manifests_template": NEW_MANIFESTS},
    )  # fmt: skip
    assert created.status_code in (200, 201), created.text
    published = httpx.post(f"{a.url}/api/v1/types/chat/versions/1.1.0/publish/", headers=auth)
    assert published.status_code == 200, published.text
    brokers.sync_broker(Broker.objects.get(pk=broker.pk))
    assert Plan.objects.get(pk=small.pk).maintenance_info == {"version": "1.1.0", "description": "Faster chat"}

    # Unbind and deprovision through A: the Secret and A's objects are gone.
    done = run_inline(services.unbind(actor=owner, binding=Binding.objects.get(pk=binding.pk)).pk)
    assert done.state == "succeeded", done.error
    assert kube.get_or_none("v1", "Secret", "support-chat-consumer-binding", kube_namespace) is None
    done = run_inline(services.deprovision_instance(actor=owner, instance=Instance.objects.get(pk=instance.pk)).pk)
    assert done.state == "succeeded", f"{done.error}\n{a.log('worker')[-3000:]}"
    wait_for(
        lambda: not kube.list("apps/v1", "Deployment", a_namespace, label_selector="app.kubernetes.io/name=chat"),
        30,
        "A to delete the deployment",
    )
    states = a.shell(
        "import json\nfrom instances.models import Binding, Instance\n"
        "print(json.dumps([Instance.objects.get().state, Binding.objects.get().state]))"
    )
    assert states == ["deprovisioned", "deleted"]


def run_inline(op_id) -> Operation:
    operations.execute(op_id)
    return Operation.objects.get(pk=op_id)
