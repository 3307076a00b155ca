"""orgs list / switch / members."""

from __future__ import annotations

from sbay.client import EXIT_NOT_FOUND, CliError
from sbay.output import emit


def register(subparsers, common) -> None:
    orgs = subparsers.add_parser("orgs", help="organizations you belong to")
    sub = orgs.add_subparsers(dest="orgs_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", parents=[common], help="list your organizations")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("switch", parents=[common], help="act in another organization from now on")
    p.add_argument("slug")
    p.set_defaults(func=cmd_switch)
    p = sub.add_parser("members", parents=[common], help="list the members of an organization")
    p.add_argument("slug", nargs="?")
    p.set_defaults(func=cmd_members)


def cmd_list(args, ctx) -> int:
    orgs = ctx.client().paginate("/api/v1/orgs/")
    current = args.org or ctx.config.org
    for org in orgs:
        org["current"] = "*" if org["slug"] == current else ""
    emit(
        orgs,
        ctx.output,
        [
            ("current", ""),
            ("slug", "SLUG"),
            ("name", "NAME"),
            ("role", "ROLE"),
            ("monthly_spend_limit", "SPEND LIMIT"),
            ("currency", ""),
        ],
    )
    return 0


def cmd_switch(args, ctx) -> int:
    client = ctx.client()
    try:
        org = client.get(f"/api/v1/orgs/{args.slug}/")
    except CliError as exc:
        if exc.exit_code == EXIT_NOT_FOUND:
            raise CliError(f"You are not a member of an organization called {args.slug!r}.", EXIT_NOT_FOUND) from exc
        raise
    ctx.config.org = org["slug"]
    ctx.config.save()
    if ctx.output == "table":
        print(f"Now acting in {org['name']} ({org['slug']}) as {org['role']}.")
    else:
        emit(org, ctx.output)
    return 0


def cmd_members(args, ctx) -> int:
    slug = args.slug or args.org or ctx.config.org
    if not slug:
        raise CliError("Name an organization, or choose one with `sbay orgs switch`.")
    members = ctx.client().paginate(f"/api/v1/orgs/{slug}/members/")
    emit(members, ctx.output, [("username", "USER"), ("email", "EMAIL"), ("role", "ROLE"), ("teams", "TEAMS")])
    return 0
