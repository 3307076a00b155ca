"""Small database helpers shared by every app's services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model


def save_unique(obj: Model, *, field: str, message: str) -> None:
    """Save ``obj``; a unique-constraint race becomes a field error instead of a 500."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise ValidationError({field: message}) from exc
