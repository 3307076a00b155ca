"""Provision a two-object type from the generated form in a real browser and watch it become ready."""

from __future__ import annotations

import pytest

from conftest import PASSWORD
from instances.models import Instance

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_deploy_from_the_form_and_watch_it_become_ready(
    page,
    owner,
    chat_type,
    cluster,
    worker_factory,
    kube,
    kube_namespace,
):
    worker_factory()
    page.goto("/login/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")

    page.goto("/catalog/chat/deploy/?plan=small")
    page.fill("#instance-name", "chat-browser")
    page.select_option("#deploy-cluster", str(cluster.pk))
    page.click("#deploy-submit")
    page.wait_for_url("**/instances/*/")
    # The status part refreshes itself (htmx) until the operation ends.
    page.wait_for_selector("#instance-state [data-state=ready]", timeout=60_000)
    assert page.locator("#instance-address").inner_text().endswith(":80")
    instance = Instance.objects.get(name="chat-browser")
    assert instance.state == "ready"
    assert kube.get("apps/v1", "Deployment", "chat-browser", kube_namespace)["status"]["availableReplicas"] == 1
