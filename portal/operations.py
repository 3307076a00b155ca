"""The operation pipeline: every slow piece of work is an ``Operation`` row.

* ``start_operation`` creates the row inside the caller's transaction and enqueues it on commit.
* A Celery worker calls ``execute``: it *claims* the row with a conditional UPDATE
  (``state = pending``), so a duplicate delivery of the same message does nothing.
* The handler registered for the operation's kind runs with an ``OperationContext``; it logs
  steps and heartbeats through it. Handlers must be idempotent: after a lost worker the whole
  handler runs again from the start.
* The outcome is written with another conditional UPDATE (``claim_token`` still ours), so an
  operation finishes exactly once even if two workers ever ran it.
* ``sweep`` (run periodically by beat) re-queues operations whose worker vanished (stale
  heartbeat) and re-sends pending ones whose message may have been lost.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Model
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal.models import Operation, OperationStep, Organization

log = logging.getLogger(__name__)
State = Operation.State


class RetryLater(Exception):
    """A transient failure: the operation is retried with backoff until max_attempts."""

    def __init__(self, message: str, delay: float | None = None):
        super().__init__(message)
        self.delay = delay


class OperationFailed(Exception):
    """A permanent failure; the message is shown to users, so it must hold no secrets."""


class LostClaim(Exception):
    """The operation was cancelled or taken over by another worker: stop quietly."""


@dataclass(frozen=True)
class Handler:
    kind: str
    label: str
    run: Callable[[OperationContext], dict[str, Any] | None]
    on_finish: Callable[[Operation], None] | None = None
    notify_on_success: bool = False


HANDLERS: dict[str, Handler] = {}


def handler(
    kind: str,
    *,
    label: str | None = None,
    on_finish: Callable[[Operation], None] | None = None,
    notify_on_success: bool = False,
):
    """Register the function that runs operations of ``kind``."""

    def register(fn: Callable[[OperationContext], dict[str, Any] | None]):
        HANDLERS[kind] = Handler(kind, label or kind, fn, on_finish, notify_on_success)
        return fn

    return register


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class OperationContext:
    """What a handler gets: params, target, a step log and a heartbeat."""

    def __init__(self, operation: Operation, token: uuid.UUID):
        self.operation = operation
        self.token = token
        self._last_beat = time.monotonic()

    @property
    def params(self) -> dict[str, Any]:
        return self.operation.params

    @property
    def target(self) -> Model | None:
        return self.operation.target

    def log(self, message: str, level: str = OperationStep.Level.INFO) -> None:
        OperationStep.objects.create(
            operation_id=self.operation.pk, message=message, level=level, attempt=self.operation.attempts
        )
        self.heartbeat(force=True)

    def heartbeat(self, force: bool = False) -> None:
        """Prove this worker is alive; raise LostClaim if the operation is no longer ours."""
        if not force and time.monotonic() - self._last_beat < 1.0:
            return
        alive = Operation.objects.filter(pk=self.operation.pk, state=State.IN_PROGRESS, claim_token=self.token).update(
            heartbeat_at=timezone.now()
        )
        self._last_beat = time.monotonic()
        if not alive:
            raise LostClaim(str(self.operation.pk))

    def sleep(self, seconds: float) -> None:
        """Sleep while heartbeating, so long waits don't look like a dead worker."""
        deadline = time.monotonic() + seconds
        beat = max(0.2, settings.OPERATION_HEARTBEAT_SECONDS / 2)
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(beat, left))
            self.heartbeat(force=True)


def _target_fields(target: Model | None) -> dict[str, Any]:
    if target is None:
        return {}
    return {
        "target_type": ContentType.objects.get_for_model(target),
        "target_id": str(target.pk),
        "target_repr": str(target)[:200],
    }


def start_operation(
    *,
    org: Organization,
    kind: str,
    target: Model | None = None,
    params: dict[str, Any] | None = None,
    requested_by=None,
    max_attempts: int | None = None,
) -> Operation:
    """Create an operation in the current transaction; it is enqueued when that commits."""
    if kind not in HANDLERS:
        raise ValueError(f"No handler is registered for operations of kind {kind!r}.")
    user = requested_by if getattr(requested_by, "is_authenticated", False) else None
    with transaction.atomic():
        op = Operation.objects.create(
            org=org,
            kind=kind,
            params=params or {},
            requested_by=user,
            max_attempts=max_attempts or settings.OPERATION_MAX_ATTEMPTS,
            **_target_fields(target),
        )
        who = user.get_username() if user else "the system"
        OperationStep.objects.create(operation=op, message=f"{HANDLERS[kind].label} requested by {who}")
        transaction.on_commit(lambda: enqueue(op.pk))
    return op


def enqueue(operation_id: uuid.UUID | str, countdown: float | None = None) -> None:
    from portal.tasks import run_operation

    try:
        run_operation.apply_async(args=[str(operation_id)], queue=settings.OPERATION_QUEUE, countdown=countdown)
    except Exception:  # broker down: the sweeper re-sends pending operations later
        log.exception("Could not enqueue operation %s; the sweeper will retry", operation_id)


def claim(operation_id: uuid.UUID | str, worker: str) -> tuple[Operation, uuid.UUID] | None:
    token = uuid.uuid4()
    now = timezone.now()
    claimed = Operation.objects.filter(pk=operation_id, state=State.PENDING, not_before__lte=now).update(
        state=State.IN_PROGRESS,
        claim_token=token,
        claimed_by=worker[:200],
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        started_at=Coalesce("started_at", now),
    )
    if not claimed:
        return None
    return Operation.objects.get(pk=operation_id), token


def _backoff(attempt: int) -> float:
    return float(min(300, 5 * 2 ** max(0, attempt - 1)))


def finish(operation: Operation, token: uuid.UUID, state: str, *, error: str = "", result: dict | None = None) -> bool:
    """Write the outcome if the claim is still ours. Returns False if it was not."""
    with transaction.atomic():
        done = Operation.objects.filter(pk=operation.pk, state=State.IN_PROGRESS, claim_token=token).update(
            state=state,
            error=error,
            result=result or {},
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        if not done:
            return False
        operation.refresh_from_db()
        spec = HANDLERS.get(operation.kind)
        if state == State.SUCCEEDED:
            OperationStep.objects.create(operation=operation, message="Succeeded", attempt=operation.attempts)
        else:
            OperationStep.objects.create(
                operation=operation,
                message=f"Failed: {error}",
                level=OperationStep.Level.ERROR,
                attempt=operation.attempts,
            )
        if spec and spec.on_finish:
            spec.on_finish(operation)
        _notify_requester(operation, spec)
    return True


def _notify_requester(operation: Operation, spec: Handler | None) -> None:
    if operation.requested_by is None:
        return
    if operation.state == State.SUCCEEDED and not (spec and spec.notify_on_success):
        return
    from portal.notifications import notify

    label = spec.label if spec else operation.kind
    what = f"{label} of {operation.target_repr}" if operation.target_repr else label
    if operation.state == State.SUCCEEDED:
        notify(
            [operation.requested_by],
            title=f"{what} succeeded",
            url=operation.get_absolute_url(),
            org=operation.org,
            level="success",
        )
    else:
        notify(
            [operation.requested_by],
            title=f"{what} failed",
            body=operation.error,
            url=operation.get_absolute_url(),
            org=operation.org,
            level="danger",
        )


def execute(operation_id: uuid.UUID | str, worker: str | None = None) -> str:
    """Run one operation if it can be claimed. Returns what happened (for logs and tests)."""
    claimed = claim(operation_id, worker or worker_name())
    if claimed is None:
        return "skipped"
    operation, token = claimed
    spec = HANDLERS.get(operation.kind)
    if spec is None:
        finish(operation, token, State.FAILED, error=f"No handler for operations of kind {operation.kind!r}.")
        return "failed"
    ctx = OperationContext(operation, token)
    try:
        if operation.attempts > 1:
            ctx.log(f"Attempt {operation.attempts} of {operation.max_attempts}", OperationStep.Level.WARNING)
        result = spec.run(ctx)
    except LostClaim:
        log.info("Operation %s is no longer ours (cancelled or taken over)", operation.pk)
        return "lost"
    except RetryLater as exc:
        return _retry_or_fail(operation, token, str(exc), exc.delay)
    except OperationFailed as exc:
        finish(operation, token, State.FAILED, error=str(exc))
        return "failed"
    except Exception as exc:
        log.exception("Operation %s (%s) crashed", operation.pk, operation.kind)
        finish(operation, token, State.FAILED, error=f"Unexpected error ({type(exc).__name__}); see the worker log.")
        return "failed"
    return "succeeded" if finish(operation, token, State.SUCCEEDED, result=result) else "lost"


def _retry_or_fail(operation: Operation, token: uuid.UUID, message: str, delay: float | None) -> str:
    if operation.attempts >= operation.max_attempts:
        finish(operation, token, State.FAILED, error=f"Gave up after {operation.attempts} attempts: {message}")
        return "failed"
    wait = delay if delay is not None else _backoff(operation.attempts)
    with transaction.atomic():
        released = Operation.objects.filter(pk=operation.pk, state=State.IN_PROGRESS, claim_token=token).update(
            state=State.PENDING,
            claim_token=None,
            claimed_by="",
            not_before=timezone.now() + timedelta(seconds=wait),
            enqueued_at=timezone.now(),
        )
        if not released:
            return "lost"
        OperationStep.objects.create(
            operation_id=operation.pk,
            level=OperationStep.Level.WARNING,
            attempt=operation.attempts,
            message=f"{message} — retrying in {wait:.0f}s",
        )
        transaction.on_commit(lambda: enqueue(operation.pk, countdown=wait))
    return "retry"


def cancel(operation: Operation) -> bool:
    """Cancel a pending or running operation. A running handler stops at its next heartbeat."""
    with transaction.atomic():
        done = Operation.objects.filter(pk=operation.pk, state__in=[State.PENDING, State.IN_PROGRESS]).update(
            state=State.CANCELLED, finished_at=timezone.now(), claim_token=None
        )
        if done:
            OperationStep.objects.create(operation=operation, message="Cancelled", level=OperationStep.Level.WARNING)
    operation.refresh_from_db()
    return bool(done)


def sweep() -> dict[str, int]:
    """Re-queue operations whose worker vanished, and re-send pending ones not picked up."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.OPERATION_STALE_SECONDS)
    requeued = failed = resent = 0
    stale = Operation.objects.filter(state=State.IN_PROGRESS, heartbeat_at__lt=stale_before)
    for pk, token, attempts, max_attempts in stale.values_list("pk", "claim_token", "attempts", "max_attempts"):
        with transaction.atomic():
            mine = Operation.objects.filter(pk=pk, state=State.IN_PROGRESS, claim_token=token)
            if attempts >= max_attempts:
                message = f"Gave up: the worker was lost {attempts} times."
                if mine.update(state=State.FAILED, error=message, finished_at=now, claim_token=None):
                    OperationStep.objects.create(operation_id=pk, message=message, level=OperationStep.Level.ERROR)
                    operation = Operation.objects.get(pk=pk)
                    spec = HANDLERS.get(operation.kind)
                    if spec and spec.on_finish:  # the target's state follows, as when a worker records it
                        spec.on_finish(operation)
                    _notify_requester(operation, spec)
                    failed += 1
                continue
            if mine.update(state=State.PENDING, claim_token=None, claimed_by="", not_before=now, enqueued_at=now):
                OperationStep.objects.create(
                    operation_id=pk,
                    level=OperationStep.Level.WARNING,
                    attempt=attempts,
                    message="The worker stopped sending heartbeats; the operation was queued again",
                )
                transaction.on_commit(lambda pk=pk: enqueue(pk))
                requeued += 1
    lost = Operation.objects.filter(state=State.PENDING, not_before__lte=now, enqueued_at__lt=stale_before)
    for pk in lost.values_list("pk", flat=True):
        if Operation.objects.filter(pk=pk, state=State.PENDING, enqueued_at__lt=stale_before).update(enqueued_at=now):
            enqueue(pk)
            resent += 1
    return {"requeued": requeued, "failed": failed, "resent": resent}
