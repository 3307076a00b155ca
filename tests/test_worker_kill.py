"""A worker killed with SIGKILL mid-operation: another worker finishes it, exactly once."""

from __future__ import annotations

import time

import pytest

from portal import services
from portal.models import Notification, Operation

pytestmark = pytest.mark.worker


def wait_for(predicate, timeout: float, what: str, worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    log = worker.log()[-3000:] if worker else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


def test_operation_survives_sigkill_of_its_worker(worker_factory, owner, org):
    first = worker_factory()
    op = services.check_workers(actor=owner, org=org, steps=8, seconds=0.5)

    # Let it get going, then kill the worker without warning.
    wait_for(lambda: op.steps.filter(message="Step 2 of 8 done").exists(), 60, "step 2", first)
    first.kill()
    op.refresh_from_db()
    assert op.state == Operation.State.IN_PROGRESS and op.attempts == 1

    # A new worker with beat: the sweeper notices the stale heartbeat and re-queues it.
    second = worker_factory(beat=True)
    wait_for(lambda: Operation.objects.get(pk=op.pk).is_terminal, 90, "the operation to finish", second)

    op.refresh_from_db()
    assert op.state == Operation.State.SUCCEEDED, op.error
    assert op.attempts == 2
    messages = list(op.steps.values_list("message", flat=True))
    assert messages.count("Succeeded") == 1
    assert "The worker stopped sending heartbeats; the operation was queued again" in messages
    assert messages.count("Step 8 of 8 done") == 1
    assert op.claimed_by != "" and op.result["steps"] == 8
    # Finishing side effects happened once: one notification to the requester.
    assert Notification.objects.filter(user=owner, title__contains="Worker check").count() == 1
    time.sleep(2)  # a late duplicate delivery must change nothing
    assert Operation.objects.get(pk=op.pk).attempts == 2
