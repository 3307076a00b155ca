"""provision, update, deprovision, instances, describe, bind, unbind, share, unshare."""

from __future__ import annotations

import json

from sbay import params
from sbay.client import EXIT_NOT_FOUND, CliError
from sbay.commands.ops import follow
from sbay.commands.types import parameters_for
from sbay.output import emit

COLUMNS = [
    ("name", "NAME"),
    ("type", "TYPE"),
    ("version", "VERSION"),
    ("plan", "PLAN"),
    ("state", "STATE"),
    ("cluster", "CLUSTER"),
    ("namespace", "NAMESPACE"),
    ("org", "ORG"),
]
BINDING_COLUMNS = [
    ("name", "NAME"),
    ("app_kind", "KIND"),
    ("app_name", "APP"),
    ("app_namespace", "NAMESPACE"),
    ("state", "STATE"),
    ("org", "ORG"),
    ("created_by", "BY"),
]


def register(subparsers, common) -> None:
    p = subparsers.add_parser("provision", parents=[common], help="deploy an instance of a service type")
    p.add_argument("type", help="service type slug (see `sbay marketplace` / `sbay types list`)")
    p.add_argument("name", help="instance name (lowercase letters, digits, dashes)")
    p.add_argument("--plan", default="")
    p.add_argument("--version", default="", help="type version (default: latest published)")
    p.add_argument("--cluster", default="", help="cluster name (default: the org's only cluster)")
    p.add_argument("-n", "--namespace", default="", help="namespace (default: the cluster's)")
    params.add_arguments(p)
    p.add_argument("--wait", action="store_true", help="follow the operation until it ends")
    p.set_defaults(func=cmd_provision)

    p = subparsers.add_parser("update", parents=[common], help="change an instance's plan or parameters")
    p.add_argument("name")
    p.add_argument("--plan", default="")
    params.add_arguments(p)
    p.add_argument("--dry-run", action="store_true", help="show the diff of rendered manifests, change nothing")
    p.add_argument("--wait", action="store_true")
    p.set_defaults(func=cmd_update)

    p = subparsers.add_parser("deprovision", parents=[common], help="delete an instance and all it owns")
    p.add_argument("name")
    p.add_argument(
        "--abandon",
        action="store_true",
        help="only forget it (for a cluster gone for good); records what is left behind",
    )
    p.add_argument("--wait", action="store_true")
    p.set_defaults(func=cmd_deprovision)

    p = subparsers.add_parser("instances", parents=[common], help="list instances (and ones shared with you)")
    p.add_argument("--shared", action="store_true", help="instances other teams/orgs shared with you")
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser("describe", parents=[common], help="show an instance with its bindings")
    p.add_argument("name")
    p.set_defaults(func=cmd_describe)

    p = subparsers.add_parser("bind", parents=[common], help="bind an app to an instance; credentials arrive in it")
    p.add_argument("instance")
    p.add_argument("--app", required=True, help="deployment/NAME or statefulset/NAME")
    p.add_argument("-n", "--namespace", default="", help="the app's namespace")
    p.add_argument("--name", default="", help="binding name (default: the app's name)")
    p.add_argument("--cluster", default="", help="the app's cluster (default: the instance's)")
    p.add_argument("--wait", action="store_true", help="wait, then show the credentials (once)")
    p.set_defaults(func=cmd_bind)

    p = subparsers.add_parser("unbind", parents=[common], help="remove a binding's Secret and projection")
    p.add_argument("instance")
    p.add_argument("binding")
    p.add_argument("--wait", action="store_true")
    p.set_defaults(func=cmd_unbind)

    p = subparsers.add_parser("share", parents=[common], help="let another org or team bind to an instance")
    p.add_argument("instance")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--with-org", dest="with_org", default="")
    target.add_argument("--with-team", dest="with_team", default="", help="ORG/TEAM")
    p.set_defaults(func=cmd_share)

    p = subparsers.add_parser("unshare", parents=[common], help="stop sharing (revokes their bindings)")
    p.add_argument("instance")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--with-org", dest="with_org", default="")
    target.add_argument("--with-team", dest="with_team", default="", help="ORG/TEAM")
    p.add_argument("--yes", action="store_true", help="confirm revoking their bindings")
    p.set_defaults(func=cmd_unshare)


def find_instance(client, org: str, name: str, shared: bool = True) -> dict:
    rows = client.get("/api/v1/instances/", org=org, name=name)["results"]
    if not rows and shared:
        rows = client.get("/api/v1/shared-instances/", name=name)["results"]
    if not rows:
        raise CliError(f"No instance called {name!r}.", EXIT_NOT_FOUND)
    return rows[0]


def _started(ctx, client, op: dict, wait: bool, what: str) -> int:
    if wait:
        return follow(client, op["id"], ctx.output)
    if ctx.output == "table":
        print(f"{what}: operation {op['id']} ({op['state']}). Follow it with `sbay ops watch {op['id']}`.")
    else:
        emit(op, ctx.output)
    return 0


def cmd_provision(args, ctx) -> int:
    client = ctx.client()
    body = {
        "type": args.type,
        "name": args.name,
        "plan": args.plan,
        "version": args.version,
        "cluster": args.cluster,
        "namespace": args.namespace,
        "parameters": parameters_for(client, args.type, args.version or None, args.param, args.file),
    }
    op = client.post("/api/v1/instances/", body)
    return _started(ctx, client, op, args.wait, f"Provisioning {args.name}")


def cmd_update(args, ctx) -> int:
    client = ctx.client()
    instance = find_instance(client, args.org or ctx.config.org, args.name, shared=False)
    body = {
        "plan": args.plan,
        "parameters": parameters_for(client, instance["type"], instance["version"], args.param, args.file),
    }
    if args.dry_run:
        preview = client.post(f"/api/v1/instances/{instance['id']}/preview/", body)
        if ctx.output == "table":
            print(preview["diff"] or "No change to the rendered manifests.")
        else:
            emit(preview, ctx.output)
        return 0
    op = client.patch(f"/api/v1/instances/{instance['id']}/", body)
    return _started(ctx, client, op, args.wait, f"Updating {args.name}")


def cmd_deprovision(args, ctx) -> int:
    client = ctx.client()
    instance = find_instance(client, args.org or ctx.config.org, args.name, shared=False)
    result = client.request(
        "DELETE", f"/api/v1/instances/{instance['id']}/", params={"abandon": "true"} if args.abandon else None
    )
    if args.abandon:
        left = result.get("abandoned") or []
        print(
            f"{args.name} abandoned; left behind: " + (", ".join(f"{r['kind']}/{r['name']}" for r in left) or "nothing")
        )
        return 0
    return _started(ctx, client, result, args.wait, f"Deprovisioning {args.name}")


def cmd_list(args, ctx) -> int:
    client = ctx.client()
    if args.shared:
        emit(
            client.paginate("/api/v1/shared-instances/"),
            ctx.output,
            [("name", "NAME"), ("type", "TYPE"), ("org", "OWNER ORG"), ("state", "STATE"), ("id", "ID")],
        )
        return 0
    emit(client.paginate("/api/v1/instances/", org=args.org or ctx.config.org), ctx.output, COLUMNS)
    return 0


def cmd_describe(args, ctx) -> int:
    client = ctx.client()
    instance = find_instance(client, args.org or ctx.config.org, args.name, shared=False)
    detail = client.get(f"/api/v1/instances/{instance['id']}/")
    detail["bindings"] = client.get(f"/api/v1/instances/{instance['id']}/bindings/")["results"]
    if ctx.output != "table":
        emit(detail, ctx.output)
        return 0
    bindings = detail.pop("bindings")
    for key in ("parameters", "outputs"):
        detail[key] = json.dumps(detail[key])
    emit({k: v for k, v in detail.items() if k not in ("resources", "abandoned")}, "table")
    print("\nbindings:")
    emit(bindings, "table", BINDING_COLUMNS)
    return 0


def cmd_bind(args, ctx) -> int:
    client = ctx.client()
    instance = find_instance(client, args.org or ctx.config.org, args.instance)
    body = {"app": args.app, "namespace": args.namespace, "name": args.name, "cluster": args.cluster}
    op = client.post(f"/api/v1/instances/{instance['id']}/bindings/", body)
    if not args.wait:
        return _started(ctx, client, op, False, f"Binding {args.app} to {args.instance}")
    code = follow(client, op["id"], "table" if ctx.output == "table" else "quiet")
    if code:
        return code
    credentials = client.post(f"/api/v1/bindings/{op['binding']['id']}/credentials/")
    if ctx.output == "table":
        print(f"Credentials (shown once; the app reads them from $SERVICE_BINDING_ROOT/{op['binding']['name']}/):")
        emit(credentials, "table")
    else:
        emit({"binding": op["binding"], "credentials": credentials}, ctx.output)
    return 0


def cmd_unbind(args, ctx) -> int:
    client = ctx.client()
    instance = find_instance(client, args.org or ctx.config.org, args.instance)
    rows = [
        b for b in client.get(f"/api/v1/instances/{instance['id']}/bindings/")["results"] if b["name"] == args.binding
    ]
    if not rows:
        raise CliError(f"{args.instance} has no binding called {args.binding!r}.", EXIT_NOT_FOUND)
    op = client.delete(f"/api/v1/bindings/{rows[0]['id']}/")
    return _started(ctx, client, op, args.wait, f"Unbinding {args.binding}")


def _share_body(args) -> dict:
    return {"org": args.with_org, "team": args.with_team}


def cmd_share(args, ctx) -> int:
    client = ctx.client()
    instance = find_instance(client, args.org or ctx.config.org, args.instance, shared=False)
    share = client.post(f"/api/v1/instances/{instance['id']}/shares/", _share_body(args))
    print(f"{args.instance} is shared with {share['team'] or share['org']}: they may bind to it.")
    return 0


def cmd_unshare(args, ctx) -> int:
    client = ctx.client()
    instance = find_instance(client, args.org or ctx.config.org, args.instance, shared=False)
    wanted = args.with_team or args.with_org
    shares = client.get(f"/api/v1/instances/{instance['id']}/shares/")
    match = [s for s in shares if wanted in (s["team"], s["org"])]
    if not match:
        raise CliError(f"{args.instance} is not shared with {wanted}.", EXIT_NOT_FOUND)
    result = client.request(
        "DELETE",
        f"/api/v1/instances/{instance['id']}/shares/{match[0]['id']}/",
        params={"confirm": "true"} if args.yes else None,
    )
    print(f"No longer shared with {wanted}; {len(result['revoked'])} binding(s) being revoked.")
    return 0
