"""A two-object type (Deployment + Service) and a cluster on the real local API server."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.models import Plan, ServiceType, TypeVersion
from instances.models import Cluster
from portal import operations
from portal.models import Operation

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ instance.name }}
spec:
  replicas: {{ parameters.replicas }}
  selector:
    matchLabels: {app: "{{ instance.name }}"}
  template:
    metadata:
      labels: {app: "{{ instance.name }}"}
    spec:
      containers:
      - name: chat
        image: "example/chat:{{ parameters.tag }}"
        resources:
          limits: {cpu: "{{ parameters.cpu }}"}
        env:
        - {name: ADMIN_PASSWORD, value: "{{ parameters.admin_password }}"}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ instance.name }}
spec:
  selector: {app: "{{ instance.name }}"}
  ports:
  - {name: http, port: {{ parameters.port }}, targetPort: 8080}
"""

SCHEMA = {
    "type": "object",
    "properties": {
        "tag": {"type": "string", "default": "1.0", "pattern": "^[a-z0-9.]+$"},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
        "cpu": {"type": "string", "default": "100m"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 80},
        "admin_password": {"type": "string", "writeOnly": True, "minLength": 8, "default": "change-me-now"},
    },
}

OUTPUTS = [
    {
        "name": "host",
        "from": {"kind": "Service", "name_template": "{{ instance.name }}", "jsonpath": ".spec.clusterIP"},
    },
    {
        "name": "port",
        "from": {"kind": "Service", "name_template": "{{ instance.name }}", "jsonpath": ".spec.ports[0].port"},
    },
]

BINDING = {
    "host": "{{ outputs.host }}",
    "port": "{{ outputs.port }}",
    "uri": "http://{{ outputs.host }}:{{ outputs.port }}",
    "password": {"generate": "password", "length": 20},
}


@pytest.fixture
def chat_type(org, team, owner) -> ServiceType:
    service_type = ServiceType.objects.create(org=org, owner_team=team, slug="chat", name="Chat", visibility="org")
    TypeVersion.objects.create(
        type=service_type,
        version="1.0.0",
        state="published",
        manifests_template=MANIFESTS,
        parameter_schema=SCHEMA,
        outputs=OUTPUTS,
        binding_template=BINDING,
    )
    Plan.objects.create(
        type=service_type,
        slug="small",
        name="Small",
        values={"replicas": 1, "cpu": "100m"},
        locked=["replicas", "cpu"],
        order=1,
    )
    Plan.objects.create(
        type=service_type,
        slug="large",
        name="Large",
        values={"replicas": 3, "cpu": "500m"},
        locked=["replicas", "cpu"],
        order=2,
    )
    return service_type


@pytest.fixture
def kubeconfig(kube_cluster) -> str:
    return Path(kube_cluster).read_text()


@pytest.fixture
def cluster(org, kubeconfig, kube_namespace) -> Cluster:
    return Cluster.objects.create(
        org=org, name="local", kubeconfig=kubeconfig, default_namespace=kube_namespace, reachable=True
    )


def run(op_id) -> Operation:
    """Run an operation in this process, as a worker would."""
    operations.execute(op_id)
    return Operation.objects.get(pk=op_id)
