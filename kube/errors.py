"""Exceptions raised by :mod:`kube`. Messages are meant to be shown to users."""

from __future__ import annotations

from dataclasses import dataclass


class KubeError(Exception):
    """Any failure talking to Kubernetes.

    ``status`` is the HTTP status code (None when no answer came back) and
    ``reason`` the machine-readable reason of the API's Status (e.g. ``Invalid``).
    """

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


class KubeUnreachable(KubeError):
    """The API server could not be reached in time (refused, timed out, TLS failure)."""


class NotFound(KubeError):
    """The object, or its kind, does not exist."""


class Expired(KubeError):
    """HTTP 410 Gone: a resourceVersion is too old (compacted). :meth:`Kube.watch` handles it."""


@dataclass(frozen=True)
class FieldConflict:
    """One field of an apply that another field manager owns."""

    field: str  # as the API reports it, e.g. ".spec.replicas"
    manager: str  # the other field manager, e.g. "kubectl-edit"
    message: str  # the API's own wording, e.g. 'conflict with "kubectl-edit" using apps/v1'


class ApplyConflict(KubeError):
    """Server-side apply refused: fields are owned by other field managers.

    Apply again with ``force=True`` to take the fields over.
    """

    def __init__(self, message: str, conflicts: list[FieldConflict], *, status: int | None = 409) -> None:
        super().__init__(message, status=status, reason="Conflict")
        self.conflicts = conflicts

    @property
    def managers(self) -> list[str]:
        """The other field managers, sorted, each once."""
        return sorted({c.manager for c in self.conflicts})

    @property
    def fields(self) -> list[str]:
        return [c.field for c in self.conflicts]
