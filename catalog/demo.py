"""The demo "chat" type (story chapters 2-4): a Deployment, a Secret and a Service; plans small and large.

Used by ``manage.py seed_catalog`` and by the tests, so the demo is always a type that publishes.
"""

from __future__ import annotations

CHAT_MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "{{ instance.name }}"
  labels:
    app: "{{ instance.name }}"
spec:
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
      - name: chat
        image: {{ ("registry.acme.example/chat:" ~ parameters.image_tag) | tojson }}
        ports:
        - name: http
          containerPort: 3000
        env:
        - name: LOG_LEVEL
          value: {{ parameters.log_level | tojson }}
        - name: ADMIN_PASSWORD
          valueFrom:
            secretKeyRef:
              name: "{{ instance.name }}-admin"
              key: password
        resources: {{ parameters.resources | tojson }}
---
apiVersion: v1
kind: Secret
metadata:
  name: "{{ instance.name }}-admin"
type: Opaque
stringData:
  password: {{ parameters.admin_password | tojson }}
---
apiVersion: v1
kind: Service
metadata:
  name: "{{ instance.name }}"
spec:
  selector:
    app: "{{ instance.name }}"
  ports:
  - name: http
    port: {{ parameters.port }}
    targetPort: http
"""

QUANTITY = {"type": "string", "format": "k8s-quantity"}

CHAT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["admin_password"],
    "properties": {
        "image_tag": {
            "type": "string",
            "title": "Image tag",
            "description": "Which build of the chat server to run.",
            "default": "1.4.2",
            "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+$",
            "x-order": 1,
        },
        "replicas": {
            "type": "integer",
            "title": "Replicas",
            "description": "How many chat server pods run.",
            "default": 1,
            "minimum": 1,
            "maximum": 10,
            "x-order": 2,
        },
        "log_level": {
            "type": "string",
            "title": "Log level",
            "enum": ["debug", "info", "warn", "error"],
            "default": "info",
            "x-order": 3,
        },
        "port": {
            "type": "integer",
            "title": "Service port",
            "default": 80,
            "minimum": 1,
            "maximum": 65535,
            "x-order": 4,
        },
        "admin_password": {
            "type": "string",
            "title": "Admin password",
            "description": "Password of the chat's admin account.",
            "writeOnly": True,
            "minLength": 12,
            "maxLength": 128,
            "x-order": 5,
        },
        "resources": {
            "type": "object",
            "title": "Resources",
            "description": "CPU and memory of each pod.",
            "x-order": 6,
            "properties": {
                "requests": {
                    "type": "object",
                    "title": "Requests",
                    "x-order": 1,
                    "properties": {
                        "cpu": {**QUANTITY, "title": "CPU request", "default": "100m", "x-order": 1},
                        "memory": {**QUANTITY, "title": "Memory request", "default": "128Mi", "x-order": 2},
                    },
                },
                "limits": {
                    "type": "object",
                    "title": "Limits",
                    "x-order": 2,
                    "properties": {
                        "cpu": {**QUANTITY, "title": "CPU limit", "default": "500m", "x-order": 1},
                        "memory": {**QUANTITY, "title": "Memory limit", "default": "256Mi", "x-order": 2},
                    },
                },
            },
        },
    },
}

CHAT_OUTPUTS = [
    {
        "name": "host",
        "from": {"kind": "Service", "name_template": "{{ instance.name }}", "jsonpath": ".spec.clusterIP"},
    },
    {
        "name": "port",
        "from": {"kind": "Service", "name_template": "{{ instance.name }}", "jsonpath": ".spec.ports[0].port"},
    },
]

CHAT_BINDING = {
    "host": "{{ outputs.host }}",
    "port": "{{ outputs.port }}",
    "uri": "http://{{ outputs.host }}:{{ outputs.port }}",
}

CHAT_PLANS = [
    {
        "slug": "small",
        "name": "Small",
        "description": "One pod with a small footprint; for tests and demos.",
        "values": {
            "replicas": 1,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        },
        "locked": ["replicas", "resources"],
        "order": 1,
    },
    {
        "slug": "large",
        "name": "Large",
        "description": "Three pods with room to grow; for the company-wide chat.",
        "values": {
            "replicas": 3,
            "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
        },
        "locked": ["resources"],
        "order": 2,
    },
]
