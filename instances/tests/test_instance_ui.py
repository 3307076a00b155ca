"""Instance pages through the Django test client (the browser journey is in tests/)."""

from __future__ import annotations

import pytest

from instances.models import Instance
from instances.tests.conftest import run
from portal.models import Operation

pytestmark = pytest.mark.usefixtures("chat_type", "cluster")


@pytest.fixture
def web(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def instance(api):
    body = api.post("/api/v1/instances/", {"type": "chat", "name": "chat-a", "plan": "small"}, format="json").json()
    run(body["id"])
    return Instance.objects.get(name="chat-a")


def test_list_and_detail(web, instance):
    page = web.get("/instances/").content.decode()
    assert 'data-instance="chat-a"' in page and "ready" in page
    detail = web.get(f"/instances/{instance.pk}/").content.decode()
    assert "admin_password" in detail and "change-me-now" not in detail and "********" in detail
    assert 'id="instance-address"' in detail and "instance.provision" in detail
    fragment = web.get(f"/instances/{instance.pk}/", HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and b'id="instance-status"' in fragment.content


def test_update_preview_and_field_errors(web, instance):
    response = web.post(f"/instances/{instance.pk}/update/", {"plan": "large", "parameters": "", "preview": "1"})
    html = response.content.decode()
    assert 'id="preview-diff"' in html and "+  replicas: 3" in html
    response = web.post(f"/instances/{instance.pk}/update/", {"plan": "small", "parameters": "port: 0"})
    assert 'data-field="parameters"' in response.content.decode()
    response = web.post(f"/instances/{instance.pk}/update/", {"plan": "small", "parameters": "- not a map"})
    assert "Give a mapping" in response.content.decode()
    response = web.post(f"/instances/{instance.pk}/update/", {"plan": "large", "parameters": ""})
    assert response.status_code == 302 and response["Location"].startswith("/operations/")
    assert Instance.objects.get(pk=instance.pk).state == "updating"


def test_bind_form_errors_and_binding_page(web, instance, kube, kube_namespace):
    response = web.post(f"/instances/{instance.pk}/bind/", {"app": "pod/x", "namespace": kube_namespace})
    assert 'data-field="app"' in response.content.decode()
    response = web.post(f"/instances/{instance.pk}/bind/", {"app": "deployment/missing", "namespace": kube_namespace})
    assert response.status_code == 302
    binding_page = response["Location"]
    op = Operation.objects.get(kind="binding.create")
    assert run(op.pk).state == "failed"
    assert "Cannot find deployment/missing" in web.get(binding_page).content.decode()


def test_unshare_confirmation_lists_bindings(web, instance, other_org):
    from instances.models import Binding, InstanceShare

    share = InstanceShare.objects.create(instance=instance, org=other_org)
    Binding.objects.create(
        instance=instance,
        org=other_org,
        name="callcenter",
        app_kind="Deployment",
        app_name="callcenter",
        app_namespace="support",
        state="ready",
    )
    page = web.get(f"/instances/{instance.pk}/shares/{share.pk}/unshare/").content.decode()
    assert 'id="revoked"' in page and "callcenter" in page
    response = web.post(f"/instances/{instance.pk}/shares/{share.pk}/unshare/")
    assert response.status_code == 302 and not InstanceShare.objects.exists()
    assert Binding.objects.get(name="callcenter").state == "deleting"


def test_outsider_gets_404_on_every_page(client, outsider, instance):
    client.force_login(outsider)
    for url in (f"/instances/{instance.pk}/", f"/instances/shared/{instance.pk}/"):
        assert client.get(url).status_code == 404
    for url in (
        f"/instances/{instance.pk}/update/",
        f"/instances/{instance.pk}/deprovision/",
        f"/instances/{instance.pk}/bind/",
        f"/instances/{instance.pk}/share/",
    ):
        assert client.post(url, {"plan": "large", "app": "deployment/x", "target": "globex"}).status_code == 404
    assert b"chat-a" not in client.get("/instances/").content


def test_deploy_from_the_generated_form_provisions(web, cluster, kube, kube_namespace):
    page = web.get("/catalog/chat/deploy/?plan=small").content.decode()
    assert f'<option value="{cluster.pk}"' in page
    bad = web.post(
        "/catalog/chat/deploy/?plan=small",
        {"_instance_name": "Bad Name", "_cluster": cluster.pk, "tag": "2.0", "port": "80"},
    )
    assert 'data-field="name"' in bad.content.decode() and not Instance.objects.exists()
    response = web.post(
        "/catalog/chat/deploy/?plan=small",
        {"_instance_name": "chat-form", "_cluster": cluster.pk, "tag": "2.0", "port": "8080"},
    )
    assert response.status_code == 302
    instance = Instance.objects.get(name="chat-form")
    assert response["Location"] == instance.get_absolute_url()
    run(Operation.objects.get(kind="instance.provision").pk)
    assert Instance.objects.get(pk=instance.pk).state == "ready"
    assert kube.get("v1", "Service", "chat-form", kube_namespace)["spec"]["ports"][0]["port"] == 8080
