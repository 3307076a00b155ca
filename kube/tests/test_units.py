"""Pure functions: field paths, managedFields parsing, readiness rules (no cluster)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kube import Readiness, Value, field_owners, foreign_fields, parse_path, readiness
from kube.fields import format_path


def k(**keys: Any) -> str:
    return "k:" + json.dumps(keys, separators=(",", ":"))


OBJ = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "managedFields": [
            {
                "manager": "servicebay",
                "operation": "Apply",
                "apiVersion": "apps/v1",
                "time": "2026-01-02T03:04:05Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:spec": {
                        "f:template": {
                            "f:spec": {
                                "f:containers": {
                                    k(name="app"): {
                                        ".": {},
                                        "f:image": {},
                                        "f:args": {},
                                        "f:ports": {
                                            k(containerPort=80, protocol="TCP"): {".": {}, "f:containerPort": {}}
                                        },
                                    }
                                }
                            }
                        }
                    },
                    "f:metadata": {"f:finalizers": {'v:"example.com/keep"': {}}},
                },
            },
            {
                "manager": "kubectl-edit",
                "operation": "Update",
                "apiVersion": "apps/v1",
                "time": "2026-01-02T04:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:metadata": {"f:annotations": {"f:app.kubernetes.io/note": {}}},
                    "f:spec": {
                        "f:replicas": {},
                        "f:template": {
                            "f:spec": {"f:containers": {k(name="app"): {"f:resources": {"f:limits": {"f:cpu": {}}}}}}
                        },
                    },
                },
            },
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "subresource": "status",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:status": {"f:replicas": {}}},
            },
        ],
    },
}


def test_parse_path() -> None:
    assert parse_path("spec.template.spec.containers[name=app].resources.limits.cpu") == (
        "spec",
        "template",
        "spec",
        "containers",
        {"name": "app"},
        "resources",
        "limits",
        "cpu",
    )
    assert parse_path('metadata.annotations["app.kubernetes.io/note"]') == (
        "metadata",
        "annotations",
        "app.kubernetes.io/note",
    )
    assert parse_path("spec.ports[containerPort=80,protocol=TCP]") == (
        "spec",
        "ports",
        {"containerPort": "80", "protocol": "TCP"},
    )
    assert parse_path("metadata.finalizers[=example.com/keep]") == ("metadata", "finalizers", Value("example.com/keep"))
    assert parse_path("a[3]") == ("a", 3)
    with pytest.raises(ValueError):
        parse_path("spec[x]")
    assert (
        format_path(parse_path('metadata.annotations["app.kubernetes.io/note"]'))
        == 'metadata.annotations["app.kubernetes.io/note"]'
    )


def test_field_owners() -> None:
    def managers(path: Any) -> list[str]:
        return [o.manager for o in field_owners(OBJ, path)]

    assert managers("spec.template.spec.containers[name=app].resources.limits.cpu") == ["kubectl-edit"]
    assert managers("spec.template.spec.containers[name=app].image") == ["servicebay"]
    assert managers("spec.template.spec.containers[name=app]") == ["servicebay", "kubectl-edit"]
    assert managers("spec.template.spec.containers[name=other].image") == []
    assert managers("spec.template.spec.containers[name=app].args[0]") == ["servicebay"]  # atomic list
    assert managers("spec.template.spec.containers[name=app].ports[containerPort=80].containerPort") == ["servicebay"]
    assert managers("metadata.finalizers[=example.com/keep]") == ["servicebay"]
    assert managers('metadata.annotations["app.kubernetes.io/note"]') == ["kubectl-edit"]
    assert managers(("spec", "replicas")) == ["kubectl-edit"]
    assert managers("status.replicas") == ["kube-controller-manager"]
    [owner] = field_owners(OBJ, "spec.replicas")
    assert (owner.operation, owner.time and owner.time.isoformat()) == ("Update", "2026-01-02T04:00:00+00:00")


def test_foreign_fields() -> None:
    found = {(f.path, f.manager, f.operation) for f in foreign_fields(OBJ)}
    assert found == {
        ('metadata.annotations["app.kubernetes.io/note"]', "kubectl-edit", "Update"),
        ("spec.replicas", "kubectl-edit", "Update"),
        ("spec.template.spec.containers[name=app].resources.limits.cpu", "kubectl-edit", "Update"),
    }
    with_status = {f.path for f in foreign_fields(OBJ, include_status=True)}
    assert "status.replicas" in with_status
    mine = {f.path for f in foreign_fields(OBJ, manager="kubectl-edit")}
    assert "spec.template.spec.containers[name=app].ports[containerPort=80,protocol=TCP].containerPort" in mine
    assert "metadata.finalizers[=example.com/keep]" in mine


def deployment(generation: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": 2} | status,
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (deployment(generation=3), Readiness(False, "waiting for the controller to observe generation 3")),
        (deployment(updatedReplicas=1, replicas=3), Readiness(False, "1 of 3 replicas updated")),
        (deployment(updatedReplicas=3, replicas=4), Readiness(False, "1 old replicas pending termination")),
        (deployment(updatedReplicas=3, replicas=3, availableReplicas=2), Readiness(False, "2 of 3 replicas available")),
        (deployment(updatedReplicas=3, replicas=3, availableReplicas=3), Readiness(True, "3 of 3 replicas available")),
        (
            deployment(
                conditions=[
                    {
                        "type": "Progressing",
                        "status": "False",
                        "reason": "ProgressDeadlineExceeded",
                        "message": "ReplicaSet web-1 has timed out progressing.",
                    }
                ]
            ),
            Readiness(False, "rollout stuck: ReplicaSet web-1 has timed out progressing."),
        ),
        (
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "j"},
                "status": {
                    "conditions": [
                        {
                            "type": "Failed",
                            "status": "True",
                            "reason": "BackoffLimitExceeded",
                            "message": "Job has reached the specified backoff limit",
                        }
                    ]
                },
            },
            Readiness(False, "failed: BackoffLimitExceeded Job has reached the specified backoff limit"),
        ),
        (
            {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "status": {"active": 1}},
            Readiness(False, "running: 1 active, 0 succeeded, 0 failed"),
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {"nodeName": "n"},
                "status": {
                    "phase": "Pending",
                    "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ImagePullBackOff"}}}],
                },
            },
            Readiness(False, "container app waiting: ImagePullBackOff"),
        ),
        (
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Succeeded"}},
            Readiness(True, "completed"),
        ),
        (
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "NodePort"}},
            Readiness(True, "NodePort service"),
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            },
            Readiness(False, "being deleted"),
        ),
        (
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
            Readiness(True, "exists"),
        ),
        (None, Readiness(False, "does not exist")),
    ],
)
def test_readiness_rules(obj: Any, expected: Readiness) -> None:
    assert readiness(obj) == expected
