"""Outputs (values read from an instance's live objects) and binding templates.

An output is ``{"name": "port", "from": {"kind": "Service", "name_template": "{{ instance.name }}",
"jsonpath": ".spec.ports[0].port"}}``. ``jsonpath`` is the kubectl subset: ``.a.b``, ``[0]``,
``['key.with.dots']`` and filters ``[?(@.name=="http")]``, optionally wrapped in ``{…}``.

A binding template maps credential names to a template string (rendered with ``outputs``,
``parameters``, ``instance`` and ``binding``), a literal, or a generator
(``{"generate": "password", "length": 24}``).
"""

from __future__ import annotations

import re
from typing import Any

from catalog.rendering import RenderError, compile_template, render_value

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
GENERATORS = {"password", "token", "uuid"}
_TOKEN_RE = re.compile(
    r"""\.(?P<name>[A-Za-z0-9_\-]+)"""
    r"""|\[(?P<index>-?\d+)\]"""
    r"""|\[['"](?P<key>[^'"]+)['"]\]"""
    r"""|\[\?\(@\.(?P<fkey>[A-Za-z0-9_\-.]+)\s*==\s*(?:"(?P<fdq>[^"]*)"|'(?P<fsq>[^']*)'|(?P<fnum>-?\d+))\)\]"""
)


class JsonPathError(ValueError):
    pass


def parse_jsonpath(path: str) -> list[tuple[str, Any]]:
    """Steps of a kubectl-style JSONPath: ("key", name) | ("index", n) | ("filter", (keys, value))."""
    if not isinstance(path, str) or not path.strip():
        raise JsonPathError("a jsonpath such as .spec.ports[0].port is required")
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise JsonPathError(f"cannot read {path!r} at {text[pos : pos + 20]!r}")
        if match.group("name") is not None:
            steps.append(("key", match.group("name")))
        elif match.group("index") is not None:
            steps.append(("index", int(match.group("index"))))
        elif match.group("key") is not None:
            steps.append(("key", match.group("key")))
        else:
            value: Any = match.group("fdq") if match.group("fdq") is not None else match.group("fsq")
            if value is None:
                value = int(match.group("fnum"))
            steps.append(("filter", (tuple(match.group("fkey").split(".")), value)))
        pos = match.end()
    if not steps:
        raise JsonPathError(f"{path!r} selects nothing")
    return steps


def read_jsonpath(obj: Any, path: str) -> Any:
    """The value at ``path`` in ``obj``, or None when it is not there (yet)."""
    value = obj
    for kind, arg in parse_jsonpath(path):
        if kind == "key":
            value = value.get(arg) if isinstance(value, dict) else None
        elif kind == "index":
            value = value[arg] if isinstance(value, list) and -len(value) <= arg < len(value) else None
        else:
            keys, wanted = arg
            match = None
            for item in value if isinstance(value, list) else []:
                current = item
                for key in keys:
                    current = current.get(key) if isinstance(current, dict) else None
                if current == wanted or (current is not None and str(current) == str(wanted)):
                    match = item
                    break
            value = match
        if value is None:
            return None
    return value


def output_problems(outputs: Any, objects: list[dict] | None = None, context: dict | None = None) -> list[str]:
    """What is wrong with an ``outputs`` list (and, given rendered objects, what it points at)."""
    if outputs in (None, []):
        return []
    if not isinstance(outputs, list):
        return ["Outputs must be a list of {name, from: {kind, name_template, jsonpath}}."]
    problems = []
    seen = set()
    kinds = {}
    for obj in objects or []:
        kinds.setdefault(obj["kind"], set()).add(obj["metadata"]["name"])
    for i, output in enumerate(outputs):
        where = f"output {i + 1}"
        if not isinstance(output, dict):
            problems.append(f"{where}: must be an object with name and from.")
            continue
        name = output.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.append(f"{where}: name must be an identifier such as host or port.")
        elif name in seen:
            problems.append(f"{where}: the name {name!r} is used twice.")
        else:
            seen.add(name)
            where = f"output {name!r}"
        source = output.get("from")
        if not isinstance(source, dict):
            problems.append(f"{where}: from must be an object with kind, name_template and jsonpath.")
            continue
        kind = source.get("kind")
        if not isinstance(kind, str) or not kind:
            problems.append(f"{where}: from.kind is required (e.g. Service).")
        try:
            parse_jsonpath(source.get("jsonpath"))
        except JsonPathError as exc:
            problems.append(f"{where}: from.jsonpath: {exc}.")
        template = source.get("name_template", "{{ instance.name }}")
        if not isinstance(template, str):
            problems.append(f"{where}: from.name_template must be text.")
            continue
        try:
            compile_template(template, "name template")
        except RenderError as exc:
            problems.append(f"{where}: from.name_template: {exc.describe()}")
            continue
        if objects is not None and context is not None and isinstance(kind, str) and kind:
            try:
                rendered = render_value(template, context).strip()
            except RenderError as exc:
                problems.append(f"{where}: from.name_template: {exc.describe()}")
                continue
            if kind not in kinds:
                problems.append(f"{where}: the manifests render no {kind}.")
            elif rendered not in kinds[kind]:
                problems.append(
                    f"{where}: the manifests render no {kind} named {rendered!r} "
                    f"(they render {', '.join(sorted(kinds[kind]))})."
                )
    return problems


def binding_problems(binding_template: Any, context: dict | None = None) -> list[str]:
    """What is wrong with a binding template; with a context, each template string is test-rendered."""
    if binding_template in (None, {}):
        return []
    if not isinstance(binding_template, dict):
        return ['The binding template must be an object such as {"host": "{{ outputs.host }}"}.']
    problems = []
    for key, value in binding_template.items():
        if not NAME_RE.match(str(key)):
            problems.append(f"{key!r}: credential names must be identifiers such as host, port, uri.")
        if isinstance(value, str):
            try:
                compile_template(value, "binding template")
                if context is not None:
                    render_value(value, context)
            except RenderError as exc:
                problems.append(f"{key}: {exc.describe()}")
        elif isinstance(value, dict):
            generator = value.get("generate")
            if generator not in GENERATORS:
                problems.append(f"{key}: generate must be one of {', '.join(sorted(GENERATORS))}.")
            length = value.get("length", 24)
            good_length = isinstance(length, int) and not isinstance(length, bool) and 8 <= length <= 256
            if generator != "uuid" and not good_length:
                problems.append(f"{key}: length must be a whole number from 8 to 256.")
            extra = set(value) - {"generate", "length"}
            if extra:
                problems.append(f"{key}: unknown keys {', '.join(sorted(extra))}.")
        elif not isinstance(value, int | float | bool) or value is None:
            problems.append(f"{key}: use a template string, a number, true/false or a generator.")
    return problems
