"""brokers register / list / sync / remove, and marketplace (every type you can use, from every source)."""

from __future__ import annotations

import os

from sbay.client import EXIT_NOT_FOUND, EXIT_USAGE, CliError
from sbay.commands.ops import follow
from sbay.output import emit

COLUMNS = [
    ("name", "NAME"),
    ("org", "ORG"),
    ("url", "URL"),
    ("sync_state", "SYNC"),
    ("last_sync_at", "SYNCED"),
    ("type_slugs", "TYPES"),
    ("last_sync_error", "ERROR"),
]
MARKET_COLUMNS = [
    ("slug", "SLUG"),
    ("name", "NAME"),
    ("source", "SOURCE"),
    ("latest_version", "LATEST"),
    ("plans", "PLANS"),
    ("prices", "PRICE/MONTH"),
    ("owner", "OWNER"),
    ("description", "DESCRIPTION"),
]


def register(subparsers, common) -> None:
    brokers = subparsers.add_parser("brokers", help="Open Service Brokers whose offerings become types")
    sub = brokers.add_subparsers(dest="brokers_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", parents=[common], help="list brokers and how their last sync went")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("register", parents=[common], help="register a broker (org admins) and sync its catalog")
    p.add_argument("name")
    p.add_argument("url", help="the broker's base URL, e.g. https://broker.example")
    p.add_argument("--username", default="", help="basic auth user")
    p.add_argument(
        "--password-env", default="SBAY_BROKER_PASSWORD", help="env var holding the password (never an argument)"
    )
    p.add_argument("--token-env", default="", help="env var holding a bearer token (instead of basic auth)")
    p.add_argument("--owner-team", default="", help="team owning the synced types (default: the org's first)")
    p.add_argument("--global", dest="is_global", action="store_true", help="a global broker (staff only)")
    p.add_argument("--wait", action="store_true", help="wait for the first sync")
    p.set_defaults(func=cmd_register)
    p = sub.add_parser("sync", parents=[common], help="fetch the broker's catalog now")
    p.add_argument("name")
    p.add_argument("--wait", action="store_true")
    p.set_defaults(func=cmd_sync)
    p = sub.add_parser("remove", parents=[common], help="forget a broker (its types stay, marked removed)")
    p.add_argument("name")
    p.set_defaults(func=cmd_remove)

    p = subparsers.add_parser(
        "marketplace", parents=[common], help="every type you can use: templates and broker offerings"
    )
    p.add_argument("search", nargs="?", default="", help="filter by name or description")
    p.set_defaults(func=cmd_marketplace)


def find_broker(client, name: str) -> dict:
    for row in client.paginate("/api/v1/brokers/"):
        if row["name"] == name:
            return row
    raise CliError(f"No broker called {name!r}.", EXIT_NOT_FOUND)


def cmd_list(args, ctx) -> int:
    rows = ctx.client().paginate("/api/v1/brokers/")
    if ctx.output != "table":
        emit(rows, ctx.output)
        return 0
    for row in rows:
        row["org"] = row["org"] or "(global)"
        row["type_slugs"] = ",".join(t["slug"] + (" (removed)" if t["removed"] else "") for t in row["types"]) or "-"
    emit(rows, "table", COLUMNS)
    return 0


def cmd_register(args, ctx) -> int:
    body = {"name": args.name, "url": args.url}
    if args.token_env:
        body |= {"auth_kind": "bearer", "token": os.environ.get(args.token_env, "")}
        if not body["token"]:
            raise CliError(f"Set the bearer token in ${args.token_env}.", EXIT_USAGE)
    else:
        if not args.username:
            raise CliError("Give --username (basic auth) or --token-env VAR (bearer).", EXIT_USAGE)
        body |= {"auth_kind": "basic", "username": args.username, "password": os.environ.get(args.password_env, "")}
    if args.is_global:
        body["org"] = "global"
    elif args.org:
        body["org"] = args.org
    if args.owner_team:
        body["owner_team"] = args.owner_team
    client = ctx.client()
    broker = client.post("/api/v1/brokers/", body)
    if args.wait:
        return follow(client, broker["operation"], ctx.output)
    if ctx.output == "table":
        print(f"Registered broker {broker['name']}; syncing its catalog (sbay ops watch {broker['operation']}).")
    else:
        emit(broker, ctx.output)
    return 0


def cmd_sync(args, ctx) -> int:
    client = ctx.client()
    broker = find_broker(client, args.name)
    op = client.post(f"/api/v1/brokers/{broker['id']}/sync/")
    if args.wait:
        return follow(client, op["id"], ctx.output)
    emit(op if ctx.output != "table" else f"Syncing {args.name}: operation {op['id']}.", ctx.output)
    return 0


def cmd_remove(args, ctx) -> int:
    client = ctx.client()
    broker = find_broker(client, args.name)
    client.delete(f"/api/v1/brokers/{broker['id']}/")
    print(f"Broker {args.name} removed; its types stay, marked removed.")
    return 0


def cmd_marketplace(args, ctx) -> int:
    client = ctx.client()
    # the types API already leaves out offerings a broker dropped; keep only what can be deployed
    rows = [t for t in client.paginate("/api/v1/types/", q=args.search) if t.get("latest_version")]
    # marketplace listings (vendors' priced offers): their prices per plan, and "sbay buy LISTING PLAN"
    listings = {row["type"]: row for row in client.paginate("/api/v1/listings/")}
    for t in rows:
        listing = listings.get(t["slug"])
        if listing:
            t["listing"] = listing["slug"]
            t["prices"] = ",".join(
                f"{p['plan']}:{'free' if p['free'] else p['monthly_amount'] + ' ' + p['currency'].upper()}"
                for p in listing["prices"]
            )
    if ctx.output != "table":
        emit(rows, ctx.output)
        return 0
    if not rows:
        print("Nothing to deploy yet: import a type (sbay types import) or register a broker (sbay brokers register).")
        return 0
    table = [
        {
            **t,
            "owner": f"{t['org']}/{t['owner_team']}",
            "plans": ",".join(t.get("plans") or []) or "-",
            "prices": t.get("prices") or "-",
        }
        for t in rows
    ]
    emit(table, "table", MARKET_COLUMNS)
    return 0
