"""Operation handlers of the portal app."""

from __future__ import annotations

from portal.operations import OperationContext, handler


@handler("worker.check", label="Worker check", notify_on_success=True)
def check_worker(ctx: OperationContext) -> dict:
    """Prove that a worker picks up and finishes work: a few logged, heartbeating steps."""
    steps = int(ctx.params.get("steps", 3))
    seconds = float(ctx.params.get("seconds", 0.5))
    ctx.log(f"Picked up by worker {ctx.operation.claimed_by}")
    for number in range(1, steps + 1):
        ctx.sleep(seconds)
        ctx.log(f"Step {number} of {steps} done")
    return {"worker": ctx.operation.claimed_by, "steps": steps}
