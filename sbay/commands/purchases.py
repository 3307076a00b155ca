"""buy / purchases / approvals list|approve|reject / spend / billing: the marketplace's spend approval
and the org's payment method from the CLI."""

from __future__ import annotations

from sbay.client import EXIT_NOT_FOUND, CliError
from sbay.commands.ops import follow
from sbay.output import emit

PURCHASE_COLUMNS = [
    ("id", "ID"),
    ("listing", "LISTING"),
    ("plan", "PLAN"),
    ("kind", "KIND"),
    ("cost", "PER MONTH"),
    ("team", "TEAM"),
    ("requested_by", "BY"),
    ("state", "STATE"),
    ("payment_message", "PAYMENT"),
]


def register(subparsers, common) -> None:
    p = subparsers.add_parser("buy", parents=[common], help="buy a plan of a marketplace listing")
    p.add_argument("listing")
    p.add_argument("plan")
    p.add_argument("--team", default="", help="the team whose spend this is")
    p.add_argument("--wait", action="store_true", help="wait for the payment when no approval is needed")
    p.set_defaults(func=cmd_buy)

    p = subparsers.add_parser("purchases", parents=[common], help="your organization's purchases")
    p.add_argument("--state", default="", help="pending, approved, paid, payment_failed, rejected, cancelled")
    p.set_defaults(func=cmd_purchases)

    approvals = subparsers.add_parser("approvals", help="purchases waiting for an admin's approval")
    sub = approvals.add_subparsers(dest="approvals_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", parents=[common], help="purchases waiting for approval")
    p.set_defaults(func=cmd_approvals_list)
    for verb, helptext in (("approve", "approve a purchase (admins)"), ("reject", "reject a purchase (admins)")):
        p = sub.add_parser(verb, parents=[common], help=helptext)
        p.add_argument("purchase", help="the purchase id (a prefix is enough)")
        p.add_argument("-m", "--comment", default="", help="a comment for the requester")
        if verb == "approve":
            p.add_argument("--wait", action="store_true", help="wait for the payment operation")
        p.set_defaults(func=cmd_decide, verb=verb)

    p = subparsers.add_parser("spend", parents=[common], help="this month's spend of your organization")
    p.set_defaults(func=cmd_spend)

    billing = subparsers.add_parser("billing", help="your organization's payment method")
    sub = billing.add_subparsers(dest="billing_command", metavar="ACTION", required=True)
    p = sub.add_parser("show", parents=[common], help="the payment provider, the card and the last request")
    p.set_defaults(func=cmd_billing_show)
    p = sub.add_parser("set-card", parents=[common], help="set the card purchases are charged to (admins)")
    p.add_argument("payment_method", help="a Stripe PaymentMethod id (pm_…)")
    p.add_argument("--wait", action="store_true", help="wait until the payment provider has it")
    p.set_defaults(func=cmd_billing_set)


def _rows(purchases: list[dict]) -> list[dict]:
    return [
        {**p, "id": p["id"][:8], "cost": f"{p['monthly_amount']} {p['currency'].upper()}", "team": p["team"] or "-"}
        for p in purchases
    ]


def _current_org(client, args) -> str:
    return args.org or client.get("/api/v1/me/")["current_org"] or ""


def find_purchase(client, prefix: str) -> dict:
    matches = [p for p in client.paginate("/api/v1/purchases/") if p["id"].startswith(prefix)]
    if len(matches) != 1:
        raise CliError(f"No single purchase matches {prefix!r} (sbay purchases lists them).", EXIT_NOT_FOUND)
    return matches[0]


def cmd_buy(args, ctx) -> int:
    client = ctx.client()
    purchase = client.post("/api/v1/purchases/", {"listing": args.listing, "plan": args.plan, "team": args.team})
    if ctx.output != "table":
        emit(purchase, ctx.output)
    elif purchase["state"] == "pending":
        print(
            f"Purchase {purchase['id']} ({purchase['monthly_amount']} {purchase['currency'].upper()}/month) "
            "is above your organization's self-approval limit: it waits for an admin (you will be notified)."
        )
    else:
        print(f"Purchase {purchase['id']} approved within your organization's limit; payment started.")
    if args.wait and purchase.get("operation"):
        return follow(client, purchase["operation"], ctx.output)
    return 0


def cmd_purchases(args, ctx) -> int:
    rows = ctx.client().paginate("/api/v1/purchases/", state=args.state)
    emit(rows if ctx.output != "table" else _rows(rows), ctx.output, PURCHASE_COLUMNS)
    return 0


def cmd_approvals_list(args, ctx) -> int:
    client = ctx.client()
    rows = client.paginate("/api/v1/purchases/", state="pending", org=_current_org(client, args))
    if ctx.output == "table" and not rows:
        print("Nothing waits for approval.")
        return 0
    emit(rows if ctx.output != "table" else _rows(rows), ctx.output, PURCHASE_COLUMNS)
    return 0


def cmd_decide(args, ctx) -> int:
    client = ctx.client()
    purchase = find_purchase(client, args.purchase)
    result = client.post(f"/api/v1/purchases/{purchase['id']}/{args.verb}/", {"comment": args.comment})
    if args.verb == "approve" and getattr(args, "wait", False):
        return follow(client, result["id"], ctx.output)
    if ctx.output != "table":
        emit(result, ctx.output)
    else:
        done = "approved; payment started" if args.verb == "approve" else "rejected"
        print(f"Purchase {purchase['id'][:8]} ({purchase['listing']} {purchase['plan']}) {done}.")
    return 0


def cmd_spend(args, ctx) -> int:
    client = ctx.client()
    spend = client.get(f"/api/v1/orgs/{_current_org(client, args)}/spend/")
    if ctx.output != "table":
        emit(spend, ctx.output)
        return 0
    cur = spend["currency"].upper()
    print(f"{spend['org']}: {spend['monthly_spend']} {cur}/month of a {spend['self_approval_limit']} {cur} limit")
    print(f"Payments: {spend['payment_provider']}")
    for row in spend["by_team"]:
        print(f"  team {row['team']}: {row['total']} {cur}")
    for row in spend["by_listing"]:
        print(f"  {row['listing']}: {row['total']} {cur} ({row['count']}×)")
    print(f"{len(spend['pending'])} purchase(s) wait for approval (sbay approvals list)")
    return 0


def cmd_billing_show(args, ctx) -> int:
    client = ctx.client()
    account = client.get(f"/api/v1/orgs/{_current_org(client, args)}/billing/")
    if ctx.output != "table":
        emit(account, ctx.output)
        return 0
    print(f"{account['org']}: payments by {account['payment_provider']}")
    print(f"Payment method: {account['payment_method'] or 'none yet'}")
    op = account.get("payment_method_operation")
    if op and op["state"] != "succeeded":
        error = f": {op['error']}" if op.get("error") else ""
        print(f"Last request: {op['state']}{error} (operation {op['id']})")
    return 0


def cmd_billing_set(args, ctx) -> int:
    client = ctx.client()
    op = client.post(f"/api/v1/orgs/{_current_org(client, args)}/billing/", {"payment_method": args.payment_method})
    if args.wait:
        return follow(client, op["id"], ctx.output)
    if ctx.output != "table":
        emit(op, ctx.output)
    else:
        print(f"Setting up the payment method: operation {op['id']} (sbay ops watch {op['id']}).")
    return 0
