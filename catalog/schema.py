"""JSON Schema helpers for parameter schemas: checking a schema, walking its fields, defaults.

Parameter schemas are JSON Schema draft 2020-12 by default (``$schema`` may name draft-04, as
OSB brokers send, or drafts 06, 07 and 2019-09). Servicebay adds a few rules on top:

* the root is ``type: object`` and property names are identifiers (``[A-Za-z_][A-Za-z0-9_-]*``),
  because forms and the CLI address nested parameters as ``resources.limits.cpu``;
* ``$ref`` is local only (``#/$defs/…`` or ``#/definitions/…``), never fetched;
* ``pattern`` must compile and must not nest quantifiers (catastrophic backtracking);
* every ``default`` is valid for its own subschema, and ``writeOnly`` (secret) parameters have
  no default, since a schema is visible to everyone who can see the type;
* UI hints: ``title`` (label), ``description`` (help), ``x-order`` (number), ``x-widget``
  (one of WIDGETS), ``x-placeholder``, ``examples`` (used to test-render required parameters
  without a default when publishing). Schemas are stored as JSON (PostgreSQL ``jsonb`` does not
  keep key order), so ``x-order`` is what orders fields in forms and references.

Parameter paths are tuples of property names; they are written as JSON pointers in errors
(``/resources/limits/cpu``) and as dotted names in forms and the CLI (``resources.limits.cpu``).
"""

from __future__ import annotations

import copy
import datetime
import functools
import ipaddress
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jsonschema
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator

DEFAULT_DRAFT = "https://json-schema.org/draft/2020-12/schema"
DRAFTS: dict[str, type] = {
    "https://json-schema.org/draft/2020-12/schema": jsonschema.Draft202012Validator,
    "https://json-schema.org/draft/2019-09/schema": jsonschema.Draft201909Validator,
    "http://json-schema.org/draft-07/schema": jsonschema.Draft7Validator,
    "http://json-schema.org/draft-06/schema": jsonschema.Draft6Validator,
    "http://json-schema.org/draft-04/schema": jsonschema.Draft4Validator,
}
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")
WIDGETS = {"text", "textarea", "password", "select", "radio", "checkbox", "number", "range", "json", "lines", "hidden"}
MAX_SCHEMA_BYTES = 256 * 1024
MAX_DEPTH = 16
MAX_FORM_DEPTH = 6
MASK = "********"

# Kubernetes resource quantities: 500m, 1.5, 2Gi, 1e3.
QUANTITY_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[mkMGTPE]|[eE][+-]?\d+)?$")
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
DATE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
TIME_RE = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
# A group that holds a quantifier and is itself quantified: (a+)+, (a|aa)*, (\w+\s?)*…
NESTED_QUANTIFIER_RE = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")


# --- formats --------------------------------------------------------------------------------

FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


def _format(name: str):
    def register(fn):
        FORMAT_CHECKER.checks(name, raises=(ValueError, TypeError))(fn)
        return fn

    return register


@_format("email")
def _email(value) -> bool:
    if not isinstance(value, str):
        return True
    try:
        EmailValidator()(value)
    except DjangoValidationError:
        return False
    return True


@_format("uri")
def _uri(value) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", parts.scheme) is not None and " " not in value


@_format("hostname")
def _hostname(value) -> bool:
    return not isinstance(value, str) or HOSTNAME_RE.match(value) is not None


@_format("ipv4")
def _ipv4(value) -> bool:
    if not isinstance(value, str):
        return True
    ipaddress.IPv4Address(value)
    return True


@_format("ipv6")
def _ipv6(value) -> bool:
    if not isinstance(value, str):
        return True
    ipaddress.IPv6Address(value)
    return True


@_format("date")
def _date(value) -> bool:
    if not isinstance(value, str):
        return True
    return re.match(r"^\d{4}-\d{2}-\d{2}$", value) is not None and bool(datetime.date.fromisoformat(value))


@_format("date-time")
def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    if not DATE_TIME_RE.match(value):
        return False
    datetime.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    return True


@_format("time")
def _time(value) -> bool:
    if not isinstance(value, str):
        return True
    if not TIME_RE.match(value):
        return False
    datetime.time.fromisoformat(value[:8])
    return True


@_format("uuid")
def _uuid(value) -> bool:
    if not isinstance(value, str):
        return True
    return str(uuid.UUID(value)) == value.lower()


@_format("regex")
def _regex(value) -> bool:
    if not isinstance(value, str):
        return True
    re.compile(value)
    return True


@_format("k8s-quantity")
def _quantity(value) -> bool:
    return not isinstance(value, str) or QUANTITY_RE.match(value) is not None


@_format("dns-label")
def _dns_label(value) -> bool:
    return not isinstance(value, str) or DNS_LABEL_RE.match(value) is not None


FORMAT_LABELS = {
    "email": "email address",
    "uri": "URI (e.g. https://example.com/)",
    "hostname": "hostname",
    "ipv4": "IPv4 address",
    "ipv6": "IPv6 address",
    "date": "date (YYYY-MM-DD)",
    "date-time": "date and time (e.g. 2025-01-31T12:00:00Z)",
    "time": "time (HH:MM:SS)",
    "uuid": "UUID",
    "regex": "regular expression",
    "k8s-quantity": "Kubernetes quantity (e.g. 500m, 1.5, 2Gi)",
    "dns-label": "DNS label (lowercase letters, digits and dashes)",
}


# --- validators -----------------------------------------------------------------------------


def draft_of(schema: dict) -> str:
    declared = schema.get("$schema") if isinstance(schema, dict) else None
    if not declared:
        return DEFAULT_DRAFT
    return str(declared).rstrip("#")


def validator_class(schema: dict):
    cls = DRAFTS.get(draft_of(schema))
    if cls is None:
        raise DjangoValidationError(
            {"parameter_schema": f"Unsupported $schema {schema.get('$schema')!r}; use draft 2020-12 or draft-04."}
        )
    return cls


@functools.lru_cache(maxsize=512)
def _cached_validator(schema_json: str):
    schema = json.loads(schema_json)
    return validator_class(schema)(schema, format_checker=FORMAT_CHECKER)


def make_validator(schema: dict):
    """A validator for ``schema`` (cached by content) that checks formats."""
    return _cached_validator(json.dumps(schema, sort_keys=True))


def pattern_error(pattern: Any) -> str | None:
    if not isinstance(pattern, str):
        return "must be a string"
    if len(pattern) > 500:
        return "is longer than 500 characters"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"is not a valid regular expression ({exc})"
    if NESTED_QUANTIFIER_RE.search(pattern):
        return "nests quantifiers such as (a+)+, which can take forever to match; simplify it"
    if re.search(r"\\[1-9]|\(\?P=", pattern):
        return "uses a back-reference; simplify it"
    return None


def _depth(value: Any, limit: int, level: int = 0) -> int:
    if level > limit:
        return level
    if isinstance(value, dict):
        return max([_depth(v, limit, level + 1) for v in value.values()] or [level])
    if isinstance(value, list):
        return max([_depth(v, limit, level + 1) for v in value] or [level])
    return level


def pointer(path: tuple | list) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def dotted(path: tuple | list) -> str:
    return ".".join(str(p) for p in path)


def path_of(name: str) -> tuple[str, ...]:
    """``resources.limits.cpu`` or ``/resources/limits/cpu`` → ("resources", "limits", "cpu")."""
    name = name.strip()
    if name.startswith("/"):
        return tuple(p.replace("~1", "/").replace("~0", "~") for p in name[1:].split("/"))
    return tuple(p for p in name.split(".") if p)


def resolve(root: dict, schema: Any) -> dict:
    """``schema`` with a local ``$ref`` followed (a few levels); an unresolvable one gives {}."""
    for _ in range(8):
        if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
            break
        ref = schema["$ref"]
        if not ref.startswith("#"):
            return {}
        target: Any = root
        for part in path_of(ref[1:]) if ref[1:] else ():
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            return {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema if isinstance(schema, dict) else {}


def _walk_schemas(schema: Any, path: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    """Every subschema (dicts under schema keywords) with its path inside the schema document."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"):
        sub = schema.get(key)
        if isinstance(sub, dict):
            for name, child in sub.items():
                yield from _walk_schemas(child, (*path, key, name))
    for key in ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"):
        sub = schema.get(key)
        if isinstance(sub, dict):
            yield from _walk_schemas(sub, (*path, key))
        elif key == "items" and isinstance(sub, list):
            for i, child in enumerate(sub):
                yield from _walk_schemas(child, (*path, key, i))
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        sub = schema.get(key)
        if isinstance(sub, list):
            for i, child in enumerate(sub):
                yield from _walk_schemas(child, (*path, key, i))


def check_schema(schema: Any) -> list[str]:
    """Everything wrong with a parameter schema, as messages naming a JSON pointer into it."""
    if not isinstance(schema, dict):
        return ["The parameter schema must be a JSON object."]
    if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
        return [f"The parameter schema is larger than {MAX_SCHEMA_BYTES // 1024} KiB."]
    if _depth(schema, MAX_DEPTH * 3) > MAX_DEPTH * 3:
        return ["The parameter schema is nested too deeply."]
    cls = DRAFTS.get(draft_of(schema))
    if cls is None:
        return [
            f"Unsupported $schema {schema.get('$schema')!r}: use {DEFAULT_DRAFT} (the default) "
            "or http://json-schema.org/draft-04/schema#."
        ]
    errors = [
        f"{pointer(error.absolute_path) or '/'}: {error.message}"
        for error in sorted(cls(cls.META_SCHEMA).iter_errors(schema), key=lambda e: list(map(str, e.absolute_path)))
    ][:20]
    if errors:
        return errors
    if schema.get("type") != "object":
        errors.append('/type: the root of a parameter schema must be "type": "object".')
    for where, sub in _walk_schemas(schema):
        at = pointer(where) or "/"
        ref = sub.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            errors.append(f"{at}/$ref: only local references (#/$defs/…) are allowed, not {ref!r}.")
        props = sub.get("properties")
        if isinstance(props, dict):
            for name in props:
                if not NAME_RE.match(name):
                    errors.append(
                        f"{at}/properties/{name}: parameter names must start with a letter or _ and contain "
                        "only letters, digits, _ and - (dots separate nested parameters)."
                    )
        for key in ("pattern",):
            if key in sub and (problem := pattern_error(sub[key])):
                errors.append(f"{at}/{key}: the pattern {problem}.")
        for name in (sub.get("patternProperties") or {}) if isinstance(sub.get("patternProperties"), dict) else {}:
            if problem := pattern_error(name):
                errors.append(f"{at}/patternProperties: the pattern {name!r} {problem}.")
        widget = sub.get("x-widget")
        if widget is not None and widget not in WIDGETS:
            errors.append(f"{at}/x-widget: unknown widget {widget!r}; use one of {', '.join(sorted(WIDGETS))}.")
        order = sub.get("x-order")
        if order is not None and (isinstance(order, bool) or not isinstance(order, int | float)):
            errors.append(f"{at}/x-order: must be a number.")
        if "default" in sub and sub.get("writeOnly"):
            errors.append(f"{at}/default: a writeOnly (secret) parameter cannot have a default; it would be visible.")
    if errors:
        return errors
    # Defaults must be valid for their own subschema.
    for where, sub in _walk_schemas(schema):
        if "default" in sub and "/$defs/" not in pointer(where) and "/definitions/" not in pointer(where):
            local = {k: v for k, v in sub.items() if k != "default"}
            local = {**local, **{k: schema[k] for k in ("$defs", "definitions", "$schema") if k in schema}}
            try:
                validator = cls(local, format_checker=FORMAT_CHECKER)
                problems = list(validator.iter_errors(sub["default"]))
            except Exception as exc:  # an unresolvable $ref and the like
                problems = []
                errors.append(f"{pointer(where) or '/'}: {exc}")
            for problem in problems[:3]:
                errors.append(f"{pointer(where) or '/'}/default: {problem.message}")
    try:
        make_validator(schema)
    except Exception as exc:  # pragma: no cover - the meta-schema check catches nearly everything
        errors.append(f"/: {exc}")
    return errors


# --- fields ---------------------------------------------------------------------------------


@dataclass
class Field:
    """One leaf of a parameter schema (what a form field or a CLI ``-p`` addresses)."""

    path: tuple[str, ...]
    schema: dict
    required: bool
    kind: str  # string | integer | number | boolean | array | object (free-form) | json
    group: tuple[str, ...] = ()
    order: float = 0
    children: list[Field] = field(default_factory=list)

    @property
    def name(self) -> str:
        return dotted(self.path)

    @property
    def pointer(self) -> str:
        return pointer(self.path)

    @property
    def title(self) -> str:
        title = self.schema.get("title")
        if title:
            return str(title)
        return self.path[-1].replace("_", " ").replace("-", " ").capitalize()

    @property
    def description(self) -> str:
        return str(self.schema.get("description") or "")

    @property
    def secret(self) -> bool:
        return bool(self.schema.get("writeOnly")) or self.schema.get("x-widget") == "password"

    @property
    def has_default(self) -> bool:
        return "default" in self.schema

    @property
    def item_kind(self) -> str:
        items = self.schema.get("items")
        return kind_of(items) if isinstance(items, dict) else "json"


def kind_of(schema: dict) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), None)
    if declared in ("string", "integer", "number", "boolean", "array", "object"):
        return declared
    if "enum" in schema and schema["enum"]:
        values = schema["enum"]
        if all(isinstance(v, str) for v in values):
            return "string"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "integer"
    if "properties" in schema:
        return "object"
    return "json"


def _ordered(schema: dict, props: dict) -> list[str]:
    position = {name: i for i, name in enumerate(props)}

    def key(name: str):
        sub = props[name] if isinstance(props[name], dict) else {}
        order = sub.get("x-order")
        return (order if isinstance(order, int | float) and not isinstance(order, bool) else 1e9, position[name])

    return sorted(props, key=key)


def fields(root: dict) -> list[Field]:
    """The parameter tree: objects with properties become groups, everything else a leaf."""

    def walk(schema: dict, path: tuple, depth: int) -> list[Field]:
        schema = resolve(root, schema)
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
        out = []
        for name in _ordered(schema, props):
            sub = resolve(root, props[name])
            kind = kind_of(sub)
            node = Field(path=(*path, name), schema=sub, required=name in required, kind=kind, group=path)
            order = sub.get("x-order")
            node.order = order if isinstance(order, int | float) and not isinstance(order, bool) else 1e9
            if kind == "object" and isinstance(sub.get("properties"), dict) and depth < MAX_FORM_DEPTH:
                node.children = walk(sub, node.path, depth + 1)
            out.append(node)
        return out

    return walk(root, (), 0) if isinstance(root, dict) else []


def leaves(root: dict) -> list[Field]:
    out: list[Field] = []

    def visit(nodes: list[Field]) -> None:
        for node in nodes:
            if node.children:
                visit(node.children)
            else:
                out.append(node)

    visit(fields(root))
    return out


def subschema_at(root: dict, path: tuple) -> dict | None:
    schema = resolve(root, root)
    for part in path:
        props = schema.get("properties") if isinstance(schema, dict) else None
        if isinstance(props, dict) and part in props:
            schema = resolve(root, props[part])
        elif isinstance(schema, dict) and isinstance(schema.get("items"), dict) and str(part).isdigit():
            schema = resolve(root, schema["items"])
        else:
            return None
    return schema


# --- values ---------------------------------------------------------------------------------


def defaults(root: dict) -> dict:
    """The values a deployer gets without choosing anything (nested objects filled in)."""

    def of(schema: dict, depth: int) -> Any:
        schema = resolve(root, schema)
        value = copy.deepcopy(schema.get("default")) if "default" in schema else None
        props = schema.get("properties")
        if isinstance(props, dict) and depth < MAX_DEPTH and (value is None or isinstance(value, dict)):
            inner = {}
            for name, sub in props.items():
                child = of(sub if isinstance(sub, dict) else {}, depth + 1)
                if child is not None:
                    inner[name] = child
            if inner or value is not None:
                value = deep_merge(inner, value or {})
        return value

    result = of(root, 0) if isinstance(root, dict) else None
    return result if isinstance(result, dict) else {}


def deep_merge(base: dict, *overrides: dict) -> dict:
    """A new dict: ``overrides`` merged into ``base`` (objects merged, everything else replaced)."""
    result = copy.deepcopy(base)
    for override in overrides:
        for key, value in (override or {}).items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = deep_merge(result[key], value)
            else:
                result[key] = copy.deepcopy(value)
    return result


def get_path(values: Any, path: tuple) -> tuple[bool, Any]:
    for part in path:
        if isinstance(values, dict) and part in values:
            values = values[part]
        else:
            return False, None
    return True, values


def set_path(values: dict, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        values = values.setdefault(part, {})
    values[path[-1]] = value


def secret_paths(root: dict) -> list[tuple[str, ...]]:
    return [leaf.path for leaf in leaves(root) if leaf.secret]


def mask(root: dict, values: dict) -> dict:
    """A copy of ``values`` with every writeOnly parameter replaced by ``********``."""
    masked = copy.deepcopy(values)
    for path in secret_paths(root):
        found, _ = get_path(masked, path)
        if found:
            set_path(masked, path, MASK)
    return masked


def example_value(schema: dict) -> Any:
    """A value that satisfies a simple leaf schema (to test-render a required parameter)."""
    if "examples" in schema and isinstance(schema["examples"], list) and schema["examples"]:
        return copy.deepcopy(schema["examples"][0])
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = kind_of(schema)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 1))
        low = 1 if isinstance(low, bool) else low
        value = low + (1 if "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool) else 0)
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    fmt = schema.get("format")
    samples = {
        "email": "someone@example.com",
        "uri": "https://example.com/",
        "hostname": "example.com",
        "ipv4": "192.0.2.1",
        "ipv6": "2001:db8::1",
        "date": "2025-01-31",
        "date-time": "2025-01-31T12:00:00Z",
        "time": "12:00:00",
        "uuid": "00000000-0000-4000-8000-000000000000",
        "k8s-quantity": "1",
        "dns-label": "example",
    }
    text = samples.get(fmt, "example")
    min_length = schema.get("minLength", 0)
    if isinstance(min_length, int) and len(text) < min_length:
        text = text + "x" * (min_length - len(text))
    return text
