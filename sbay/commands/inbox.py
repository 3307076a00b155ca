"""inbox: your notifications."""

from __future__ import annotations

from sbay.output import emit


def register(subparsers, common) -> None:
    inbox = subparsers.add_parser("inbox", parents=[common], help="your notifications")
    inbox.add_argument("--unread", action="store_true", help="only unread ones")
    inbox.add_argument("--read-all", action="store_true", help="mark all as read")
    inbox.set_defaults(func=cmd_inbox)


def cmd_inbox(args, ctx) -> int:
    client = ctx.client()
    if args.read_all:
        client.post("/api/v1/notifications/read-all/")
        print("All notifications marked as read.")
        return 0
    params = {"read_at__isnull": "true"} if args.unread else {}
    notes = client.get("/api/v1/notifications/", **params)["results"]
    emit(
        notes, ctx.output, [("id", "ID"), ("created_at", "WHEN"), ("org", "ORG"), ("title", "TITLE"), ("read", "READ")]
    )
    return 0
