"""Servicebay's only door to Kubernetes (no Django in here).

kube = connect(kubeconfig_text)
kube.apply([deployment, service])          # server-side apply as "servicebay"
readiness(kube.get("apps/v1", "Deployment", "web", "shop"))
"""

from .client import Health, Kube, ObjectList, Ref, Resource, WatchEvent, connect
from .errors import ApplyConflict, Expired, FieldConflict, KubeError, KubeUnreachable, NotFound
from .fields import FIELD_MANAGER, FieldOwner, ForeignField, Value, field_owners, foreign_fields, parse_path
from .readiness import Readiness, readiness

__all__ = [
    "FIELD_MANAGER",
    "ApplyConflict",
    "Expired",
    "FieldConflict",
    "FieldOwner",
    "ForeignField",
    "Health",
    "Kube",
    "KubeError",
    "KubeUnreachable",
    "NotFound",
    "ObjectList",
    "Readiness",
    "Ref",
    "Resource",
    "Value",
    "WatchEvent",
    "connect",
    "field_owners",
    "foreign_fields",
    "parse_path",
    "readiness",
]
