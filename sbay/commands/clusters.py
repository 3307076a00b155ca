"""clusters list / add / check / remove."""

from __future__ import annotations

from pathlib import Path

from sbay.client import EXIT_NOT_FOUND, EXIT_USAGE, CliError
from sbay.commands.ops import follow
from sbay.output import emit

COLUMNS = [
    ("name", "NAME"),
    ("health", "HEALTH"),
    ("server_version", "VERSION"),
    ("access", "ACCESS"),
    ("default_namespace", "NAMESPACE"),
    ("checked_at", "CHECKED"),
    ("last_error", "ERROR"),
]


def register(subparsers, common) -> None:
    clusters = subparsers.add_parser("clusters", help="Kubernetes clusters of your organization")
    sub = clusters.add_subparsers(dest="clusters_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", parents=[common], help="list clusters with their health")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("add", parents=[common], help="register a cluster (org admins)")
    p.add_argument("name")
    p.add_argument("--kubeconfig", help="kubeconfig file (stored encrypted)")
    p.add_argument("--context", default="", help="kubeconfig context (default: current)")
    p.add_argument("--in-cluster", action="store_true", help="use Servicebay's own service account")
    p.add_argument("--namespace", default="default", help="default namespace for deployments")
    p.add_argument("--description", default="")
    p.add_argument("--wait", action="store_true", help="wait for the first health check")
    p.set_defaults(func=cmd_add)
    p = sub.add_parser("check", parents=[common], help="check reachability and version now")
    p.add_argument("name")
    p.add_argument("--wait", action="store_true")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("remove", parents=[common], help="forget a cluster (nothing in it is deleted)")
    p.add_argument("name")
    p.set_defaults(func=cmd_remove)


def find_cluster(client, org: str, name: str) -> dict:
    rows = client.get("/api/v1/clusters/", org=org, name=name)["results"]
    if not rows:
        raise CliError(f"No cluster called {name!r} in {org or 'your organizations'}.", EXIT_NOT_FOUND)
    return rows[0]


def cmd_list(args, ctx) -> int:
    org = args.org or ctx.config.org
    emit(ctx.client().paginate("/api/v1/clusters/", org=org), ctx.output, COLUMNS)
    return 0


def cmd_add(args, ctx) -> int:
    kubeconfig = ""
    if args.in_cluster == bool(args.kubeconfig):
        raise CliError("Give either --kubeconfig FILE or --in-cluster.", EXIT_USAGE)
    if args.kubeconfig:
        try:
            kubeconfig = Path(args.kubeconfig).expanduser().read_text()
        except OSError as exc:
            raise CliError(f"Cannot read {args.kubeconfig}: {exc.strerror}", EXIT_USAGE) from exc
    client = ctx.client()
    body = {
        "name": args.name,
        "kubeconfig": kubeconfig,
        "context": args.context,
        "access": "in_cluster" if args.in_cluster else "kubeconfig",
        "default_namespace": args.namespace,
        "description": args.description,
    }
    cluster = client.post("/api/v1/clusters/", body)
    if args.wait:
        return follow(client, cluster["operation"]["id"], ctx.output)
    if ctx.output == "table":
        print(f"Registered cluster {cluster['name']}; checking it (sbay ops watch {cluster['operation']['id']}).")
    else:
        emit(cluster, ctx.output)
    return 0


def cmd_check(args, ctx) -> int:
    client = ctx.client()
    cluster = find_cluster(client, args.org or ctx.config.org, args.name)
    op = client.post(f"/api/v1/clusters/{cluster['id']}/check/")
    if args.wait:
        return follow(client, op["id"], ctx.output)
    emit(op if ctx.output != "table" else f"Checking {args.name}: operation {op['id']}.", ctx.output)
    return 0


def cmd_remove(args, ctx) -> int:
    client = ctx.client()
    cluster = find_cluster(client, args.org or ctx.config.org, args.name)
    client.delete(f"/api/v1/clusters/{cluster['id']}/")
    print(f"Cluster {args.name} removed from Servicebay.")
    return 0
