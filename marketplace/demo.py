"""The demo listing (story chapters 7 and 10): Globex Databases sells "Managed Postgres" with
plans small (25 USD/month), large (150 USD/month) and a free hobby plan. Acme's limit is 100, so
buying large needs an admin's approval, and so does the upgrade small → large."""

from __future__ import annotations

from decimal import Decimal

PG_MANIFESTS = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: "{{ instance.name }}"
  labels:
    app: "{{ instance.name }}"
spec:
  serviceName: "{{ instance.name }}"
  replicas: {{ parameters.replicas }}
  selector:
    matchLabels:
      app: "{{ instance.name }}"
  template:
    metadata:
      labels:
        app: "{{ instance.name }}"
    spec:
      containers:
      - name: postgres
        image: {{ ("postgres:" ~ parameters.version) | tojson }}
        ports:
        - name: pg
          containerPort: 5432
        resources: {{ parameters.resources | tojson }}
---
apiVersion: v1
kind: Service
metadata:
  name: "{{ instance.name }}"
spec:
  selector:
    app: "{{ instance.name }}"
  ports:
  - name: pg
    port: 5432
    targetPort: pg
"""

PG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "version": {"type": "string", "title": "PostgreSQL version", "enum": ["15", "16", "17"], "default": "16"},
        "replicas": {"type": "integer", "title": "Replicas", "minimum": 1, "maximum": 5, "default": 1},
        "resources": {"type": "object", "title": "Resources", "default": {}},
    },
}

PG_OUTPUTS = [
    {
        "name": "host",
        "from": {"kind": "Service", "name_template": "{{ instance.name }}", "jsonpath": ".spec.clusterIP"},
    },
]

PG_PLANS = [
    {
        "slug": "hobby",
        "name": "Hobby",
        "description": "One small node, no backups.",
        "values": {"replicas": 1, "resources": {"limits": {"cpu": "250m", "memory": "256Mi"}}},
        "locked": ["replicas", "resources"],
        "order": 0,
    },
    {
        "slug": "small",
        "name": "Small",
        "description": "One node with daily backups.",
        "values": {"replicas": 1, "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
        "locked": ["replicas", "resources"],
        "order": 1,
    },
    {
        "slug": "large",
        "name": "Large",
        "description": "Three nodes, failover and sharding.",
        "values": {"replicas": 3, "resources": {"limits": {"cpu": "4", "memory": "8Gi"}}},
        "locked": ["replicas", "resources"],
        "order": 2,
    },
]

PG_PRICES = {"hobby": Decimal("0"), "small": Decimal("25.00"), "large": Decimal("150.00")}

PG_DESCRIPTION = """\
**Managed PostgreSQL**, run by Globex's DBAs on the cloud your apps already use.

- daily backups and point-in-time recovery (small and large)
- automatic failover and online sharding (large)
- upgrades between plans without downtime: `sbay update my-db --plan large`

Bind it to your app like any other service: `sbay bind my-db deployment/chat`.
"""
