"""The operation pipeline through its public functions (the worker test is in tests/)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal import operations
from portal.models import Notification, Operation, OperationStep
from portal.operations import OperationFailed, RetryLater, handler

State = Operation.State
CALLS: list[str] = []


@handler("test.ok", label="Test success", notify_on_success=True)
def _ok(ctx):
    CALLS.append("ok")
    ctx.log("doing the work")
    return {"answer": 42}


@handler("test.flaky", label="Test flaky")
def _flaky(ctx):
    if ctx.operation.attempts < 2:
        raise RetryLater("the cluster did not answer", delay=0)
    return {"after": ctx.operation.attempts}


@handler("test.broken", label="Test broken")
def _broken(ctx):
    raise OperationFailed("the type has no manifests")


@handler("test.crash", label="Test crash")
def _crash(ctx):
    raise KeyError("password=hunter2")


FINISHED: list[tuple[str, str]] = []


@handler("test.tracked", label="Test tracked", on_finish=lambda op: FINISHED.append((op.kind, op.state)))
def _tracked(ctx):
    return {}


@pytest.fixture(autouse=True)
def _reset_calls():
    FINISHED.clear()
    CALLS.clear()


def start(org, user, kind="test.ok", **kwargs):
    return operations.start_operation(org=org, kind=kind, target=org, requested_by=user, **kwargs)


def test_start_creates_pending_row_and_enqueues_only_on_commit(org, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        op = start(org, owner)
    assert op.state == State.PENDING
    assert op.target == org and op.target_repr == "Acme Corp"
    assert [s.message for s in op.steps.all()] == ["Test success requested by owner"]
    assert len(callbacks) == 1  # enqueue runs only once the transaction commits


def test_unknown_kind_is_refused(org, owner):
    with pytest.raises(ValueError, match="No handler"):
        operations.start_operation(org=org, kind="nope", requested_by=owner)
    assert not Operation.objects.exists()


def test_execute_claims_runs_and_finishes_once(org, owner):
    op = start(org, owner)
    assert operations.execute(op.pk, worker="w1") == "succeeded"
    op.refresh_from_db()
    assert op.state == State.SUCCEEDED and op.result == {"answer": 42}
    assert op.attempts == 1 and op.claimed_by == "w1" and op.finished_at
    assert [s.message for s in op.steps.all()][-2:] == ["doing the work", "Succeeded"]
    # A duplicate delivery of the same message does nothing.
    assert operations.execute(op.pk, worker="w2") == "skipped"
    assert CALLS == ["ok"]
    note = Notification.objects.get(user=owner)
    assert note.title == "Test success of Acme Corp succeeded" and note.url == op.get_absolute_url()


def test_claim_is_conditional(org, owner):
    op = start(org, owner)
    first = operations.claim(op.pk, "w1")
    assert first is not None
    assert operations.claim(op.pk, "w2") is None
    _, token = first
    assert Operation.objects.get(pk=op.pk).claim_token == token


def test_not_before_delays_claim(org, owner):
    op = start(org, owner)
    Operation.objects.filter(pk=op.pk).update(not_before=timezone.now() + timedelta(minutes=1))
    assert operations.execute(op.pk) == "skipped"


def test_retry_later_backs_off_then_succeeds(org, owner, django_capture_on_commit_callbacks):
    op = start(org, owner, kind="test.flaky")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert operations.execute(op.pk) == "retry"
    op.refresh_from_db()
    assert op.state == State.PENDING and op.claim_token is None
    assert "retrying" in op.steps.last().message
    assert len(callbacks) == 1
    assert operations.execute(op.pk) == "succeeded"
    op.refresh_from_db()
    assert op.result == {"after": 2}
    assert op.steps.filter(message="Attempt 2 of 5").exists()


def test_retry_gives_up_after_max_attempts(org, owner):
    op = start(org, owner, kind="test.flaky", max_attempts=1)
    assert operations.execute(op.pk) == "failed"
    op.refresh_from_db()
    assert op.state == State.FAILED
    assert op.error == "Gave up after 1 attempts: the cluster did not answer"
    assert Notification.objects.get(user=owner).level == "danger"


def test_permanent_failure_keeps_message(org, owner):
    op = start(org, owner, kind="test.broken")
    assert operations.execute(op.pk) == "failed"
    op.refresh_from_db()
    assert op.error == "the type has no manifests"
    assert op.steps.last().level == OperationStep.Level.ERROR


def test_crash_fails_without_leaking_the_exception_text(org, owner):
    op = start(org, owner, kind="test.crash")
    assert operations.execute(op.pk) == "failed"
    op.refresh_from_db()
    assert op.error == "Unexpected error (KeyError); see the worker log."
    assert not OperationStep.objects.filter(message__contains="hunter2").exists()


def test_cancel_pending_and_cancelled_run_stops_at_heartbeat(org, owner):
    op = start(org, owner)
    assert operations.cancel(op)
    assert op.state == State.CANCELLED
    assert operations.execute(op.pk) == "skipped"

    running = start(org, owner)
    _, token = operations.claim(running.pk, "w1")
    operations.cancel(running)
    ctx = operations.OperationContext(Operation.objects.get(pk=running.pk), token)
    with pytest.raises(operations.LostClaim):
        ctx.heartbeat(force=True)
    assert not operations.finish(running, token, State.SUCCEEDED)
    assert Operation.objects.get(pk=running.pk).state == State.CANCELLED


def test_unknown_handler_at_run_time_fails_clearly(org, owner):
    op = start(org, owner)
    Operation.objects.filter(pk=op.pk).update(kind="removed.kind")
    assert operations.execute(op.pk) == "failed"
    assert "No handler" in Operation.objects.get(pk=op.pk).error


def test_sweeper_requeues_stale_and_resends_lost(org, owner, settings, django_capture_on_commit_callbacks):
    settings.OPERATION_STALE_SECONDS = 30
    long_ago = timezone.now() - timedelta(minutes=5)
    stale = start(org, owner)
    operations.claim(stale.pk, "dead-worker")
    Operation.objects.filter(pk=stale.pk).update(heartbeat_at=long_ago)
    alive = start(org, owner)
    operations.claim(alive.pk, "live-worker")
    lost = start(org, owner)
    Operation.objects.filter(pk=lost.pk).update(enqueued_at=long_ago)
    fresh = start(org, owner)

    with django_capture_on_commit_callbacks(execute=False):
        result = operations.sweep()
    assert result == {"requeued": 1, "failed": 0, "resent": 1}
    states = dict(Operation.objects.values_list("pk", "state"))
    assert states[stale.pk] == State.PENDING
    assert states[alive.pk] == State.IN_PROGRESS
    assert states[fresh.pk] == State.PENDING
    assert "stopped sending heartbeats" in Operation.objects.get(pk=stale.pk).steps.last().message
    # The re-queued operation runs to completion once.
    assert operations.execute(stale.pk) == "succeeded"
    assert Operation.objects.get(pk=stale.pk).attempts == 2


def test_sweeper_fails_an_operation_that_keeps_killing_workers(org, owner):
    op = start(org, owner, max_attempts=1)
    operations.claim(op.pk, "w")
    Operation.objects.filter(pk=op.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert operations.sweep()["failed"] == 1
    op.refresh_from_db()
    assert op.state == State.FAILED and "worker was lost 1 times" in op.error


def test_a_sweeper_give_up_runs_on_finish_and_tells_the_requester(org, owner):
    """The target's state follows a give-up as it follows any failure (no instance stuck "provisioning")."""
    op = start(org, owner, kind="test.tracked", max_attempts=1)
    operations.claim(op.pk, "w")
    Operation.objects.filter(pk=op.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert operations.sweep()["failed"] == 1
    assert FINISHED == [("test.tracked", State.FAILED)]
    assert Notification.objects.filter(user=owner, level="danger").exists()
