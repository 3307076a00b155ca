"""Absurdly nested input is a 400, never a 500 (json and Python recursion limits are not a defence)."""

from __future__ import annotations

import base64

import pytest

from instances.models import Instance
from osbapi.tests.conftest import new_id

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("depth", [70, 100_000])
def test_a_deeply_nested_body_is_a_400_and_changes_nothing(osb, depth):
    raw = ("[" * depth + "]" * depth).encode()
    response = osb.request("PUT", f"service_instances/{new_id()}", raw=raw, query={"accepts_incomplete": "true"})
    assert response.status_code == 400 and "nested" in response.json()["description"]
    deep_params = {"parameters": {}}
    cursor = deep_params["parameters"]
    for _ in range(80):
        cursor["a"] = {}
        cursor = cursor["a"]
    response = osb.provision(new_id(), **deep_params)
    assert response.status_code == 400 and "nested" in response.json()["description"]
    assert not Instance.objects.exists()


def test_a_deeply_nested_originating_identity_is_a_400(osb):
    value = base64.b64encode(("[" * 100_000 + "]" * 100_000).encode()).decode()
    response = osb.request("GET", "catalog", **{"X-Broker-API-Originating-Identity": f"cloudfoundry {value}"})
    assert response.status_code == 400 and response.json()["description"]
