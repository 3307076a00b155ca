"""Audit trail: who did what to which object. Call ``record`` inside the write's transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet

from portal.models import AuditEvent, Organization

# Keys that must never reach the audit log, whatever a caller passes in ``changes``.
SECRET_KEYS = {"password", "secret", "token", "key", "credentials", "kubeconfig", "api_key"}


def _scrub(changes: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if any(part in key.lower() for part in SECRET_KEYS):
            clean[key] = "********"
        elif isinstance(value, dict):
            clean[key] = _scrub(value)
        else:
            clean[key] = value
    return clean


def record(
    *,
    actor,
    action: str,
    org: Organization | None,
    target: Model | None = None,
    changes: dict[str, Any] | None = None,
    via: str = "ui",
    actor_repr: str | None = None,
) -> AuditEvent:
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        org=org,
        actor=user,
        actor_repr=actor_repr or (user.get_username() if user else "system"),
        action=action,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        changes=_scrub(changes or {}),
        via=via,
    )


def events_for_object(obj: Model) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        target_type=ContentType.objects.get_for_model(obj), target_id=str(obj.pk)
    ).select_related("actor")
