"""platforms list / create / revoke — other platforms consuming this org's types over OSB — and
platforms offer / withdraw TYPE (make a type available over Servicebay's OSB broker API, or stop)."""

from __future__ import annotations

from sbay.client import EXIT_NOT_FOUND, CliError
from sbay.output import emit

COLUMNS = [
    ("name", "NAME"),
    ("username", "USER"),
    ("state", "STATE"),
    ("instances", "INSTANCES"),
    ("cluster", "CLUSTER"),
    ("last_used_at", "LAST USED"),
    ("broker_url", "BROKER URL"),
]


def register(subparsers, common) -> None:
    platforms = subparsers.add_parser(
        "platforms", help="platforms that consume your types over OSB (Servicebay as a broker)"
    )
    sub = platforms.add_subparsers(dest="platforms_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", parents=[common], help="list the org's platform credentials")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser(
        "create", parents=[common], help="credentials for a platform (org admins); the secret is shown once"
    )
    p.add_argument("name")
    p.add_argument("--description", default="")
    p.add_argument("--cluster", default="", help="where its instances deploy (default: the org's only cluster)")
    p.add_argument("--namespace", default="", help="default: the cluster's default namespace")
    p.set_defaults(func=cmd_create)
    p = sub.add_parser("revoke", parents=[common], help="the platform can no longer call the broker API")
    p.add_argument("name")
    p.set_defaults(func=cmd_revoke)
    p = sub.add_parser("offer", parents=[common], help="make a type available over OSB (type owners)")
    p.add_argument("type")
    p.set_defaults(func=cmd_offer, enabled=True)
    p = sub.add_parser("withdraw", parents=[common], help="stop offering a type over OSB")
    p.add_argument("type")
    p.set_defaults(func=cmd_offer, enabled=False)


def cmd_list(args, ctx) -> int:
    emit(ctx.client().paginate("/api/v1/platforms/"), ctx.output, COLUMNS)
    return 0


def cmd_create(args, ctx) -> int:
    body = {"name": args.name, "description": args.description, "cluster": args.cluster, "namespace": args.namespace}
    platform = ctx.client().post("/api/v1/platforms/", body)
    if ctx.output != "table":
        emit(platform, ctx.output)
        return 0
    print(f"Platform {platform['name']} can now use Servicebay's OSB broker API. The secret is shown only now:\n")
    print(f"  broker URL  {platform['broker_url']}")
    print(f"  user name   {platform['username']}")
    print(f"  secret      {platform['secret']}")
    print(f"\ne.g. cf create-service-broker servicebay {platform['username']} SECRET {platform['broker_url']}")
    return 0


def cmd_revoke(args, ctx) -> int:
    client = ctx.client()
    rows = [p for p in client.paginate("/api/v1/platforms/") if p["name"] == args.name]
    if not rows:
        raise CliError(f"No platform called {args.name!r} in your organization.", EXIT_NOT_FOUND)
    platform = client.post(f"/api/v1/platforms/{rows[0]['id']}/revoke/", {})
    if ctx.output != "table":
        emit(platform, ctx.output)
    else:
        print(f"Revoked platform {platform['name']}; its instances stay.")
    return 0


def cmd_offer(args, ctx) -> int:
    type_ = ctx.client().post(f"/api/v1/types/{args.type}/osb/", {"enabled": args.enabled})
    if ctx.output != "table":
        emit(type_, ctx.output)
    elif type_["osb_enabled"]:
        print(
            f"{type_['slug']} is available to other platforms over OSB (sbay platforms create NAME gives one access)."
        )
    else:
        print(f"{type_['slug']} is no longer offered over OSB.")
    return 0
