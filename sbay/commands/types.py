"""types list / get / create / publish / import / validate / share, plans list / create, services.

Parameters (``-p key=value``, repeatable, dotted keys for nested values; ``-f params.yaml``) are
typed by the version's parameter schema: ``-p replicas=3`` sends 3, ``-p tag=010`` sends "010"
when ``tag`` is a string, ``-p debug=yes`` sends true, ``-p hosts=a,b`` or ``-p 'hosts=["a","b"]'``
sends a list, objects are JSON/YAML. The server validates (the same code as the form and the
API) and names the JSON pointer of every bad field. ``parameters_for`` is what other commands
(``provision``, ``update``) use too.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import yaml

from sbay.client import EXIT_FAILED, EXIT_USAGE, Client, CliError
from sbay.output import emit

TYPE_COLUMNS = [
    ("slug", "SLUG"),
    ("name", "NAME"),
    ("latest_version", "LATEST"),
    ("plans", "PLANS"),
    ("owner", "OWNER"),
    ("visibility", "VISIBILITY"),
    ("tags", "TAGS"),
]
INT_RE = re.compile(r"^[+-]?\d+$")
TRUE = {"true", "yes", "on", "1", "y"}
FALSE = {"false", "no", "off", "0", "n"}


# --- parameters -----------------------------------------------------------------------------


def add_parameter_arguments(parser) -> None:
    parser.add_argument(
        "-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="a parameter (dotted keys nest)"
    )
    parser.add_argument(
        "-f", "--file", action="append", default=[], metavar="FILE", help="a YAML or JSON file of parameters"
    )


def _resolve(root: dict, schema: Any) -> dict:
    for _ in range(8):
        if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/")):
            break
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        schema = {**(target or {}), **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema if isinstance(schema, dict) else {}


def subschema(root: dict | None, path: list[str]) -> dict | None:
    schema = _resolve(root or {}, root or {})
    for part in path:
        props = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(props, dict) or part not in props:
            return None
        schema = _resolve(root or {}, props[part])
    return schema


def _kind(schema: dict | None) -> str | None:
    if not schema:
        return None
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), None)
    if declared:
        return declared
    values = schema.get("enum") or []
    if values and all(isinstance(v, str) for v in values):
        return "string"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    return "object" if "properties" in schema else None


def _yaml_value(text: str) -> Any:
    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def typed_value(raw: str, schema: dict | None) -> Any:
    """``raw`` (the text after ``=``) as the JSON value the schema asks for; text when it does not fit."""
    kind = _kind(schema)
    text = raw.strip()
    if kind == "string":
        return raw
    if kind == "integer":
        return int(text) if INT_RE.match(text) else _number_or_text(raw)
    if kind == "number":
        return _number_or_text(raw)
    if kind == "boolean":
        return True if text.lower() in TRUE else False if text.lower() in FALSE else raw
    if kind == "array":
        if text.startswith("["):
            return _yaml_value(raw)
        items = schema.get("items") if isinstance(schema.get("items"), dict) else None
        return [typed_value(item, items) for item in text.split(",") if item.strip() or text == ""] if text else []
    if kind == "object":
        value = _yaml_value(raw)
        return value if isinstance(value, dict) else raw
    return _yaml_value(raw)  # not in the schema: like Helm's --set; the server says "Unknown parameter."


def _number_or_text(raw: str) -> Any:
    text = raw.strip()
    if INT_RE.match(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return raw
    return raw if value != value or value in (float("inf"), float("-inf")) else value


def _merge(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def collect_parameters(pairs: list[str], files: list[str], schema: dict | None) -> dict:
    """``-f`` files merged in order, then every ``-p`` (typed by ``schema``) on top."""
    values: dict = {}
    for name in files or []:
        try:
            text = Path(name).read_text()
        except OSError as exc:
            raise CliError(f"Cannot read {name}: {exc.strerror}", EXIT_USAGE) from exc
        try:
            loaded = yaml.safe_load(text) if text.strip() else {}
        except yaml.YAMLError as exc:
            raise CliError(f"{name} is not valid YAML or JSON: {exc}", EXIT_USAGE) from exc
        if not isinstance(loaded, dict):
            raise CliError(f"{name} must hold a mapping of parameter names to values.", EXIT_USAGE)
        _merge(values, loaded)
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise CliError(f"-p {pair!r}: use KEY=VALUE (dotted keys for nested values).", EXIT_USAGE)
        path = key.split(".")
        target = values
        for part in path[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise CliError(f"-p {pair!r}: {part} is already set to a value, not an object.", EXIT_USAGE)
        target[path[-1]] = typed_value(raw, subschema(schema, path))
    return values


def version_for(client: Client, type_slug: str, version: str | None) -> dict:
    try:
        return client.get(f"/api/v1/types/{type_slug}/versions/{version or 'latest'}/")
    except CliError as exc:
        if exc.exit_code == 4 and not version:
            raise CliError(f"{type_slug} does not exist or has no published version.", exc.exit_code) from exc
        raise


def parameters_for(client: Client, type_slug: str, version: str | None, pairs: list[str], files: list[str]) -> dict:
    """Parameters from ``-p``/``-f``, typed by the schema of ``version`` (default: the newest published)."""
    if not pairs and not files:
        return {}
    schema = version_for(client, type_slug, version).get("parameter_schema") if pairs else None
    return collect_parameters(pairs, files, schema)


# --- registration ---------------------------------------------------------------------------


def register(subparsers, common) -> None:
    types = subparsers.add_parser("types", help="service types in the catalog")
    sub = types.add_subparsers(dest="types_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", parents=[common], help="list the types you may see")
    p.add_argument("--search", "-s", help="search name, tags and description")
    p.add_argument("--owner", help="owning team slug (or org/team)")
    p.add_argument("--source", choices=["template", "broker"])
    p.add_argument("--visibility", choices=["team", "org", "orgs", "public"])
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("get", parents=[common], help="a type with its versions, plans and parameters")
    p.add_argument("type")
    p.add_argument("--version", help="whose parameters to show (default: the newest published)")
    p.set_defaults(func=cmd_get)

    p = sub.add_parser("create", parents=[common], help="create a type (and optionally its first version)")
    p.add_argument("slug")
    _type_arguments(p)
    p.add_argument("--version", help="also create this version, e.g. 1.0.0")
    p.add_argument("--manifests", help="manifests template file (YAML with Jinja2)")
    p.add_argument("--schema", help="parameter schema file (JSON or YAML)")
    p.add_argument("--outputs", help="outputs file (YAML or JSON list)")
    p.add_argument("--binding", help="binding template file (YAML or JSON)")
    p.add_argument("--changelog", default="")
    p.add_argument("--publish", action="store_true", help="publish the version right away")
    p.set_defaults(func=cmd_create)

    p = sub.add_parser("version", parents=[common], help="add a draft version (from files or another version)")
    p.add_argument("type")
    p.add_argument("version")
    p.add_argument("--from", dest="copy_from", help="start from this version's content")
    p.add_argument("--manifests")
    p.add_argument("--schema")
    p.add_argument("--outputs")
    p.add_argument("--binding")
    p.add_argument("--changelog")
    p.set_defaults(func=cmd_version)

    p = sub.add_parser("publish", parents=[common], help="check and publish a draft version")
    p.add_argument("type")
    p.add_argument("version")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("validate", parents=[common], help="check deploy parameters without deploying")
    p.add_argument("type")
    p.add_argument("--plan")
    p.add_argument("--version")
    add_parameter_arguments(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("share", parents=[common], help="change who sees a type")
    p.add_argument("type")
    p.add_argument("--visibility", required=True, choices=["team", "org", "orgs", "public"])
    p.add_argument("--with", dest="orgs", action="append", default=[], metavar="ORG", help="for --visibility orgs")
    p.set_defaults(func=cmd_share)

    p = sub.add_parser("import", parents=[common], help="make a type from running objects or a YAML file")
    p.add_argument("slug")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-file", metavar="FILE", help="objects as YAML (e.g. kubectl get … -o yaml)")
    source.add_argument("--cluster", help="read from this cluster (with --namespace and an object)")
    p.add_argument("--namespace", default="default")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--service")
    what.add_argument("--deployment")
    what.add_argument("--selector", help="label selector, e.g. app=chat")
    p.add_argument(
        "--param",
        action="append",
        default=None,
        metavar="NAME[:min=1,max=5,enum=a|b,pattern=RE]",
        help="make this proposal a parameter (repeatable; default: the proposed selection)",
    )
    p.add_argument("--no-params", action="store_true", help="lock everything: no parameters")
    p.add_argument("--dry-run", action="store_true", help="only show the objects and the proposed parameters")
    _type_arguments(p)
    p.set_defaults(func=cmd_import)

    plans = subparsers.add_parser("plans", help="plans (presets) of a type")
    sub = plans.add_subparsers(dest="plans_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", parents=[common], help="list a type's plans")
    p.add_argument("type")
    p.set_defaults(func=cmd_plans_list)
    p = sub.add_parser("create", parents=[common], help="add a plan: fixed values and locked parameters")
    p.add_argument("type")
    p.add_argument("slug")
    p.add_argument("--name")
    p.add_argument("--description", default="")
    p.add_argument("--lock", action="append", default=[], metavar="PARAMETER")
    p.add_argument("--order", type=int, default=0)
    add_parameter_arguments(p)
    p.set_defaults(func=cmd_plans_create)

    services = subparsers.add_parser("services", help="registered services (existing services in the catalog)")
    sub = services.add_subparsers(dest="services_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", parents=[common], help="registered services with their current address")
    p.set_defaults(func=cmd_services_list)
    p = sub.add_parser("register", parents=[common], help="register a Kubernetes Service or a host:port")
    p.add_argument("slug")
    p.add_argument("--name")
    p.add_argument("--team")
    p.add_argument("--description", default="")
    p.add_argument("--cluster")
    p.add_argument("--namespace", default="default")
    p.add_argument("--service", help="the Kubernetes Service's name")
    p.add_argument("--address", metavar="HOST:PORT", help="an external service")
    p.add_argument("--visibility", choices=["team", "org", "orgs", "public"], default="org")
    p.set_defaults(func=cmd_services_register)


def _type_arguments(p) -> None:
    p.add_argument("--name")
    p.add_argument("--team", help="owning team slug (default: your only team)")
    p.add_argument("--description", default=None)
    p.add_argument("--icon")
    p.add_argument("--tag", action="append", default=None, dest="tags")
    p.add_argument("--visibility", choices=["team", "org", "orgs", "public"])
    p.add_argument("--share-with", action="append", default=None, metavar="ORG")


def _type_body(args) -> dict:
    body: dict[str, Any] = {"slug": args.slug, "name": args.name or args.slug.replace("-", " ").title()}
    for key, value in (
        ("owner_team", args.team),
        ("description", args.description),
        ("icon", args.icon),
        ("tags", args.tags),
        ("visibility", args.visibility),
        ("shared_with", args.share_with),
        ("org", args.org),
    ):
        if value is not None:
            body[key] = value
    if args.share_with and not args.visibility:
        body["visibility"] = "orgs"
    return body


def _read(path: str | None, what: str, structured: bool = True) -> Any:
    if not path:
        return None
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise CliError(f"Cannot read {what} {path}: {exc.strerror}", EXIT_USAGE) from exc
    if not structured:
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"{path} is not valid YAML or JSON: {exc}", EXIT_USAGE) from exc


# --- types ----------------------------------------------------------------------------------


def _row(t: dict) -> dict:
    return {**t, "owner": f"{t['org']}/{t['owner_team']}", "plans": ",".join(t.get("plans") or []) or "-"}


def cmd_list(args, ctx) -> int:
    client = ctx.client()
    rows = client.paginate(
        "/api/v1/types/", q=args.search, owner=args.owner, source=args.source, visibility=args.visibility
    )
    if ctx.output != "table":
        emit(rows, ctx.output)
        return 0
    if not rows:
        print("No types. Make one: sbay types import NAME --from-file objects.yaml (or sbay types create).")
        return 0
    emit([_row(t) for t in rows], "table", TYPE_COLUMNS)
    return 0


def cmd_get(args, ctx) -> int:
    client = ctx.client()
    type_ = client.get(f"/api/v1/types/{args.type}/")
    version = None
    if args.version or type_.get("latest_version"):
        version = version_for(client, args.type, args.version)
    if ctx.output != "table":
        emit({**type_, "parameter_schema": version.get("parameter_schema") if version else None}, ctx.output)
        return 0
    print(f"{type_['name']} ({type_['slug']}) — owned by {type_['org']}/{type_['owner_team']}, {type_['visibility']}")
    if type_.get("description"):
        print(type_["description"])
    if type_.get("tags"):
        print("tags: " + ", ".join(type_["tags"]))
    print("\nversions:")
    for v in type_["version_list"] or []:
        first_line = ((v.get("changelog") or "").strip().splitlines() or [""])[0]
        print(f"  {v['version']:<14} {v['state']:<11} {first_line}")
    if not type_["version_list"]:
        print("  (none)")
    print("\nplans:")
    for plan in type_["plan_list"] or []:
        locked = f"  locked: {', '.join(plan['locked'])}" if plan["locked"] else ""
        print(f"  {plan['slug']:<12} {json.dumps(plan['values'])}{locked}")
    if not type_["plan_list"]:
        print("  (none)")
    if version:
        print(f"\nparameters of {version['version']}:")
        _print_parameters(version.get("parameter_schema") or {})
    print(f"\ndeploy: {type_['cli_command']}")
    return 0


def _print_parameters(schema: dict, prefix: str = "", required: set | None = None) -> None:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])

    def order(name):
        value = (props[name] or {}).get("x-order")
        return (value if isinstance(value, int | float) else 1e9, name)

    for name in sorted(props, key=order):
        sub = props[name] or {}
        if sub.get("type") == "object" and sub.get("properties"):
            _print_parameters(sub, f"{prefix}{name}.")
            continue
        bits = [str(sub.get("type", "any"))]
        if "default" in sub:
            bits.append(f"default {json.dumps(sub['default'])}")
        for key in ("minimum", "maximum", "pattern", "format", "enum"):
            if key in sub:
                bits.append(f"{key} {json.dumps(sub[key])}")
        if sub.get("writeOnly"):
            bits.append("secret")
        if name in required:
            bits.append("required")
        print(f"  {prefix}{name:<24} {', '.join(bits)}")


def cmd_create(args, ctx) -> int:
    client = ctx.client()
    if args.publish and not args.version:
        raise CliError("--publish needs --version (and --manifests, --schema).", EXIT_USAGE)
    type_ = client.post("/api/v1/types/", _type_body(args))
    if args.version:
        client.post(f"/api/v1/types/{type_['slug']}/versions/", _version_body(args, args.version))
        if args.publish:
            client.post(f"/api/v1/types/{type_['slug']}/versions/{args.version}/publish/")
        type_ = client.get(f"/api/v1/types/{type_['slug']}/")
    if ctx.output != "table":
        emit(type_, ctx.output)
        return 0
    print(f"Created type {type_['slug']} owned by {type_['org']}/{type_['owner_team']} ({type_['visibility']}).")
    if args.version:
        state = "published" if args.publish else "draft"
        print(f"Version {args.version} is {state}.")
        if not args.publish:
            print(f"Publish it with: sbay types publish {type_['slug']} {args.version}")
    else:
        print(f"Next: sbay types version {type_['slug']} 1.0.0 --manifests FILE --schema FILE")
    return 0


def _version_body(args, version: str | None = None) -> dict:
    body: dict[str, Any] = {}
    if version:
        body["version"] = version
    if getattr(args, "copy_from", None):
        body["copy_from"] = args.copy_from
    manifests = _read(args.manifests, "manifests", structured=False)
    if manifests is not None:
        body["manifests_template"] = manifests
    for key, path, what in (
        ("parameter_schema", args.schema, "schema"),
        ("outputs", args.outputs, "outputs"),
        ("binding_template", args.binding, "binding template"),
    ):
        value = _read(path, what)
        if value is not None:
            body[key] = value
    if args.changelog is not None:
        body["changelog"] = args.changelog
    return body


def cmd_version(args, ctx) -> int:
    version = ctx.client().post(f"/api/v1/types/{args.type}/versions/", _version_body(args, args.version))
    if ctx.output != "table":
        emit(version, ctx.output)
        return 0
    number = version["version"]
    print(f"Draft {number} of {args.type} saved. Publish it with: sbay types publish {args.type} {number}")
    return 0


def cmd_publish(args, ctx) -> int:
    version = ctx.client().post(f"/api/v1/types/{args.type}/versions/{args.version}/publish/")
    emit(version if ctx.output != "table" else f"Published {args.type} {version['version']}.", ctx.output)
    return 0


def cmd_validate(args, ctx) -> int:
    client = ctx.client()
    params = parameters_for(client, args.type, args.version, args.param, args.file)
    body = {"parameters": params, "plan": args.plan or "", "version": args.version or ""}
    result = client.post(f"/api/v1/types/{args.type}/validate/", body)
    if ctx.output != "table":
        emit(result, ctx.output)
        return 0
    plan = f" plan {result['plan']}" if result.get("plan") else ""
    print(f"Valid for {result['type']} {result['version']}{plan}:")
    print(yaml.safe_dump(result["values"], sort_keys=True, default_flow_style=False).rstrip())
    return 0


def cmd_share(args, ctx) -> int:
    body = {"visibility": args.visibility, "shared_with": args.orgs}
    type_ = ctx.client().patch(f"/api/v1/types/{args.type}/", body)
    if ctx.output != "table":
        emit(type_, ctx.output)
        return 0
    shared = f" with {', '.join(type_['shared_with'])}" if type_["shared_with"] else ""
    print(f"{type_['slug']} is now visible to: {type_['visibility']}{shared}.")
    return 0


# --- import ---------------------------------------------------------------------------------


def parse_param_spec(spec: str) -> dict:
    """``replicas:min=1,max=5`` / ``log_level:enum=debug|info`` / ``image_tag:pattern=^1\\.`` → a selection."""
    name, _, options = spec.partition(":")
    entry: dict[str, Any] = {"name": name.strip()}
    if not entry["name"]:
        raise CliError(f"--param {spec!r}: name the parameter.", EXIT_USAGE)
    if not options:
        return entry
    for option in re.split(r",(?=\w+=)", options):
        key, sep, value = option.partition("=")
        key = {"min": "minimum", "max": "maximum"}.get(key.strip(), key.strip())
        if not sep or key not in ("minimum", "maximum", "enum", "pattern", "default", "title", "description"):
            raise CliError(f"--param {spec!r}: use min=, max=, enum=a|b, pattern=, default=, title=.", EXIT_USAGE)
        if key in ("minimum", "maximum"):
            entry[key] = _number_or_text(value)
            if isinstance(entry[key], str):
                raise CliError(f"--param {spec!r}: {key} must be a number.", EXIT_USAGE)
        elif key == "enum":
            entry[key] = [_yaml_value(v) for v in value.split("|") if v]
        elif key == "default":
            entry[key] = _yaml_value(value)
        else:
            entry[key] = value
    return entry


def _wait_for(client: Client, op_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        op = client.get(f"/api/v1/operations/{op_id}/")
        if op["state"] in ("succeeded", "failed", "cancelled"):
            break
        if time.monotonic() > deadline:
            raise CliError(f"Reading the cluster is still {op['state']} after {timeout:.0f}s (sbay ops watch {op_id}).")
        time.sleep(0.5)
    if op["state"] != "succeeded":
        raise CliError(
            f"Reading the cluster {op['state']}: {op.get('error') or 'see sbay ops get ' + op_id}", EXIT_FAILED
        )
    return op["result"]


def cmd_import(args, ctx) -> int:
    client = ctx.client()
    if args.from_file:
        text = _read(args.from_file, "objects", structured=False)
        preview = client.post("/api/v1/types/import/preview/", {"yaml": text})
        source: dict[str, Any] = {"yaml": text}
    else:
        if not (args.service or args.deployment or args.selector):
            raise CliError("With --cluster, name --service, --deployment or --selector.", EXIT_USAGE)
        body = {
            "cluster": args.cluster,
            "namespace": args.namespace,
            "service": args.service or "",
            "deployment": args.deployment or "",
            "selector": args.selector or "",
        }
        op = client.post("/api/v1/types/import/preview/", body)
        preview = _wait_for(client, op["id"])
        source = {"objects": preview["objects"]}
    if args.dry_run:
        if ctx.output != "table":
            emit(preview, ctx.output)
            return 0
        _print_preview(preview)
        return 0
    if args.no_params:
        selections: list | None = []
    elif args.param:
        selections = [parse_param_spec(spec) for spec in args.param]
    else:
        selections = None  # the proposed selection
    body = {**_type_body(args), **source, "base_name": preview.get("base_name", "")}
    if selections is not None:
        body["parameters"] = selections
    type_ = client.post("/api/v1/types/import/", body)
    if ctx.output != "table":
        emit(type_, ctx.output)
        return 0
    names = [p["name"] for p in preview["proposals"]] if selections is None else [s["name"] for s in selections]
    chosen = [p["name"] for p in preview["proposals"] if p.get("selected")] if selections is None else names
    print(f"Created type {type_['slug']} with draft 1.0.0 from {preview['description']}.")
    print(f"Parameters: {', '.join(chosen) or '(none: everything is locked)'}")
    for note in preview.get("notes", []):
        print(f"note: {note}")
    print(f"Check and publish it: sbay types publish {type_['slug']} 1.0.0")
    return 0


def _print_preview(preview: dict) -> None:
    print(f"Objects from {preview['description']}:")
    for obj in preview["objects"]:
        print(f"  {obj['kind']} {obj['metadata']['name']}")
    for note in preview.get("notes", []):
        print(f"  note: {note}")
    for ref in preview.get("references", []):
        print(f"  uses {ref['kind']} {ref['name']} (not part of the type)")
    print("\nProposed parameters (* = chosen unless you pass --param):")
    for p in preview["proposals"]:
        mark = "*" if p.get("selected") else " "
        limits = " ".join(f"{k}={p[k]}" for k in ("minimum", "maximum", "enum", "pattern") if k in p)
        print(f" {mark} {p['name']:<32} {p['type']:<8} {json.dumps(p.get('default'))[:40]:<42} {limits}")


# --- plans ----------------------------------------------------------------------------------


def cmd_plans_list(args, ctx) -> int:
    plans = ctx.client().get(f"/api/v1/types/{args.type}/plans/")["results"]
    if ctx.output != "table":
        emit(plans, ctx.output)
        return 0
    if not plans:
        print(
            f"{args.type} has no plans: deployers choose every parameter. Add one: sbay plans create {args.type} small"
        )
        return 0
    rows = [{**p, "values": json.dumps(p["values"]), "locked": ", ".join(p["locked"]) or "-"} for p in plans]
    emit(
        rows,
        "table",
        [
            ("slug", "PLAN"),
            ("name", "NAME"),
            ("values", "VALUES"),
            ("locked", "LOCKED"),
            ("description", "DESCRIPTION"),
        ],
    )
    return 0


def cmd_plans_create(args, ctx) -> int:
    client = ctx.client()
    values = parameters_for(client, args.type, None, args.param, args.file)
    body = {
        "slug": args.slug,
        "name": args.name or args.slug.title(),
        "description": args.description,
        "values": values,
        "locked": args.lock,
        "order": args.order,
    }
    plan = client.post(f"/api/v1/types/{args.type}/plans/", body)
    emit(plan if ctx.output != "table" else f"Plan {plan['slug']} of {args.type} created.", ctx.output)
    return 0


# --- registered services --------------------------------------------------------------------


def cmd_services_list(args, ctx) -> int:
    rows = ctx.client().paginate("/api/v1/registered-services/", org=None)
    if ctx.output != "table":
        emit(rows, ctx.output)
        return 0
    for row in rows:
        row["where"] = (
            f"{row['cluster']}/{row['namespace']}/{row['service_name']}" if row["kind"] == "kubernetes" else "external"
        )
        row["address"] = row["address"] or (row["address_error"] and "unreachable") or "looking up"
    emit(
        rows,
        "table",
        [("slug", "SERVICE"), ("org", "ORG"), ("address", "ADDRESS"), ("where", "WHERE"), ("visibility", "VISIBILITY")],
    )
    return 0


def cmd_services_register(args, ctx) -> int:
    body: dict[str, Any] = {
        "slug": args.slug,
        "name": args.name or args.slug.replace("-", " ").title(),
        "description": args.description,
        "visibility": args.visibility,
    }
    if args.team:
        body["owner_team"] = args.team
    if args.address:
        host, _, port = args.address.rpartition(":")
        if not host or not port.isdigit():
            raise CliError("--address must be HOST:PORT.", EXIT_USAGE)
        body.update(kind="external", host=host, port=int(port))
    elif args.cluster and args.service:
        body.update(kind="kubernetes", cluster=args.cluster, namespace=args.namespace, service_name=args.service)
    else:
        raise CliError("Give --address HOST:PORT, or --cluster and --service (and --namespace).", EXIT_USAGE)
    service = ctx.client().post("/api/v1/registered-services/", body)
    if ctx.output != "table":
        emit(service, ctx.output)
        return 0
    where = service["address"] or "its address is being looked up"
    print(f"Registered {service['slug']}: {where}.")
    return 0
