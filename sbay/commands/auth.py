"""login, logout, whoami."""

from __future__ import annotations

from sbay.client import EXIT_USAGE, Client, CliError
from sbay.output import emit


def register(subparsers, common) -> None:
    login = subparsers.add_parser("login", parents=[common], help="save the server URL and an API token")
    login.add_argument("--url", required=True, help="Servicebay URL, e.g. http://127.0.0.1:8000")
    login.add_argument("--token", required=True, help="a personal API token (Settings → API tokens)")
    login.set_defaults(func=cmd_login)
    logout = subparsers.add_parser("logout", parents=[common], help="forget the saved token")
    logout.set_defaults(func=cmd_logout)
    whoami = subparsers.add_parser("whoami", parents=[common], help="show who you are logged in as")
    whoami.set_defaults(func=cmd_whoami)


def cmd_login(args, ctx) -> int:
    if not args.url.startswith(("http://", "https://")):
        raise CliError("--url must start with http:// or https://", EXIT_USAGE)
    me = Client(args.url, args.token).get("/api/v1/me/")
    ctx.config.url = args.url.rstrip("/")
    ctx.config.token = args.token
    ctx.config.org = args.org or ctx.config.org or (me.get("current_org") or "")
    path = ctx.config.save()
    if ctx.output == "table":
        print(f"Logged in to {ctx.config.url} as {me['username']} (org: {ctx.config.org or '-'}); saved to {path}")
    else:
        emit(me, ctx.output)
    return 0


def cmd_logout(args, ctx) -> int:
    ctx.config.token = ""
    ctx.config.save()
    print("Logged out.")
    return 0


def cmd_whoami(args, ctx) -> int:
    me = ctx.client().get("/api/v1/me/")
    me["current_org"] = args.org or ctx.config.org or me.get("current_org")
    me["server"] = ctx.config.url
    if ctx.output == "table":
        print(f"{me['username']} <{me['email']}> on {me['server']}")
        print(f"org: {me['current_org'] or '-'}  unread notifications: {me['unread_notifications']}")
        return 0
    emit(me, ctx.output)
    return 0
