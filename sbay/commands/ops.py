"""ops list / get / watch / cancel, and check-workers. ``follow`` is shared by every --wait."""

from __future__ import annotations

import time

from sbay.client import EXIT_FAILED, Client, CliError
from sbay.output import emit

TERMINAL = {"succeeded", "failed", "cancelled"}
COLUMNS = [
    ("id", "ID"),
    ("kind", "KIND"),
    ("target_repr", "TARGET"),
    ("state", "STATE"),
    ("attempts", "ATTEMPTS"),
    ("requested_by", "BY"),
    ("created_at", "CREATED"),
]


def register(subparsers, common) -> None:
    ops = subparsers.add_parser("ops", help="asynchronous operations (provision, bind, sync, …)")
    sub = ops.add_subparsers(dest="ops_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", parents=[common], help="list operations")
    p.add_argument("--state", choices=["pending", "in_progress", "succeeded", "failed", "cancelled"])
    p.add_argument("--kind")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("get", parents=[common], help="show one operation with its step log")
    p.add_argument("id")
    p.set_defaults(func=cmd_get)
    p = sub.add_parser("watch", parents=[common], help="follow an operation until it ends")
    p.add_argument("id")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    p.add_argument("--timeout", type=float, default=0, help="give up after this many seconds (0: never)")
    p.set_defaults(func=cmd_watch)
    p = sub.add_parser("cancel", parents=[common], help="cancel a pending or running operation")
    p.add_argument("id")
    p.set_defaults(func=cmd_cancel)
    p = subparsers.add_parser("check-workers", parents=[common], help="start a worker check operation")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--seconds", type=float, default=0.5)
    p.add_argument("--wait", action="store_true", help="follow the operation until it ends")
    p.set_defaults(func=cmd_check_workers)


def follow(client: Client, op_id: str, output: str, interval: float = 1.0, timeout: float = 0) -> int:
    """Print new steps as they arrive; exit 0 when the operation succeeds, 1 otherwise."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        op = client.get(f"/api/v1/operations/{op_id}/")
        if output == "table":
            for step in op.get("steps", []):
                if step["id"] not in seen:
                    seen.add(step["id"])
                    stamp = step["at"][11:19]
                    marker = {"warning": "!", "error": "x"}.get(step["level"], " ")
                    print(f"{stamp} {marker} {step['message']}", flush=True)
        if op["state"] in TERMINAL:
            break
        if deadline and time.monotonic() > deadline:
            raise CliError(f"Operation {op_id} is still {op['state']} after {timeout:.0f}s.", EXIT_FAILED)
        time.sleep(interval)
    if output == "table":
        print(f"Operation {op['id']} {op['state']}." + (f" {op['error']}" if op.get("error") else ""))
    elif output != "quiet":
        emit(op, output)
    return 0 if op["state"] == "succeeded" else EXIT_FAILED


def cmd_list(args, ctx) -> int:
    org = args.org or ctx.config.org
    ops = ctx.client().get("/api/v1/operations/", state=args.state, kind=args.kind, org=org)["results"]
    emit(ops, ctx.output, COLUMNS)
    return 0


def cmd_get(args, ctx) -> int:
    op = ctx.client().get(f"/api/v1/operations/{args.id}/")
    if ctx.output != "table":
        emit(op, ctx.output)
        return 0
    steps = op.pop("steps", [])
    emit({k: v for k, v in op.items() if v not in ("", {}, None)}, "table")
    print("\nsteps:")
    for step in steps:
        print(f"  {step['at'][11:19]} {step['message']}")
    return 0


def cmd_watch(args, ctx) -> int:
    return follow(ctx.client(), args.id, ctx.output, args.interval, args.timeout)


def cmd_cancel(args, ctx) -> int:
    op = ctx.client().post(f"/api/v1/operations/{args.id}/cancel/")
    emit(op if ctx.output != "table" else f"Operation {op['id']} {op['state']}.", ctx.output)
    return 0


def cmd_check_workers(args, ctx) -> int:
    org = args.org or ctx.config.org
    if not org:
        raise CliError("Choose an organization with `sbay orgs switch` or --org.")
    client = ctx.client()
    op = client.post(f"/api/v1/orgs/{org}/check-workers/", {"steps": args.steps, "seconds": args.seconds})
    if args.wait:
        return follow(client, op["id"], ctx.output)
    emit(op if ctx.output != "table" else f"Started operation {op['id']} ({op['state']}).", ctx.output)
    return 0
