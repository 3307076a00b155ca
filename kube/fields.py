"""Who owns which field: parsing ``metadata.managedFields`` (fieldsV1).

A field path is either a string such as
``"spec.template.spec.containers[name=app].resources.limits.cpu"`` or a tuple
of segments. Segments:

* a field name: ``spec`` (in a string, a name with dots is written
  ``metadata.labels["app.kubernetes.io/name"]``);
* a list item selected by its keys: ``[name=app]`` or
  ``[containerPort=80,protocol=TCP]``, in a tuple a mapping ``{"name": "app"}``;
* an item of a set-like list selected by value: ``[=foo]``, in a tuple ``Value("foo")``;
* a list item by index: ``[0]``, in a tuple an ``int``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

FIELD_MANAGER = "servicebay"


@dataclass(frozen=True)
class Value:
    """Path segment selecting an item of a set-like list (``v:`` in fieldsV1)."""

    value: Any


Segment = str | int | Mapping[str, Any] | Value
Path = str | tuple[Segment, ...]


class FieldOwner(NamedTuple):
    manager: str
    operation: str  # "Apply" or "Update"
    time: datetime | None


class ForeignField(NamedTuple):
    """A field owned by a field manager other than ours."""

    path: str
    manager: str
    operation: str
    time: datetime | None
    subresource: str


_TOKEN = re.compile(r'\.?([^.\[\]]+)|\[("(?:[^"\\]|\\.)*")\]|\[([^\]]*)\]')


def parse_path(path: Path) -> tuple[Segment, ...]:
    """Turn a path string into segments (a tuple path is returned as is)."""
    if not isinstance(path, str):
        return tuple(path)
    segments: list[Segment] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot parse field path {path!r} at position {pos}")
        name, quoted, selector = m.groups()
        if name is not None:
            segments.append(name)
        elif quoted is not None:
            segments.append(json.loads(quoted))
        else:
            segments.append(_parse_selector(selector, path))
        pos = m.end()
    return tuple(segments)


def _parse_selector(selector: str, path: str) -> Segment:
    selector = selector.strip()
    if selector.isdigit():
        return int(selector)
    if selector.startswith("="):
        return Value(_scalar(selector[1:]))
    keys: dict[str, Any] = {}
    for part in selector.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"bad list selector [{selector}] in field path {path!r}")
        keys[key.strip()] = value.strip()
    return keys


def _scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _same(a: Any, b: Any) -> bool:
    return a == b or str(a) == str(b) or json.dumps(a) == str(b)


def _child(node: Mapping[str, Any], segment: Segment) -> Any:
    """The fieldsV1 child of ``node`` for one path segment, or None."""
    if isinstance(segment, str):
        return node.get("f:" + segment)
    if isinstance(segment, int):
        return node.get(f"i:{segment}")
    if isinstance(segment, Value):
        for key, child in node.items():
            if key.startswith("v:") and _same(json.loads(key[2:]), segment.value):
                return child
        return None
    for key, child in node.items():
        if key.startswith("k:"):
            item = json.loads(key[2:])
            if all(k in item and _same(item[k], v) for k, v in segment.items()):
                return child
    return None


def _owns(fields: Mapping[str, Any], segments: tuple[Segment, ...]) -> bool:
    node = fields
    for segment in segments:
        if node is not fields and not node:
            return True  # an atomic parent ({} leaf) owns everything below it
        child = _child(node, segment)
        if child is None:
            return False
        node = child
    return True


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _managed_fields(obj: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    return obj.get("metadata", {}).get("managedFields") or []


def field_owners(obj: Mapping[str, Any], path: Path) -> list[FieldOwner]:
    """The field managers owning ``path`` in ``obj`` (as read from the API)."""
    segments = parse_path(path)
    return [
        FieldOwner(entry.get("manager", ""), entry.get("operation", ""), _parse_time(entry.get("time")))
        for entry in _managed_fields(obj)
        if _owns(entry.get("fieldsV1") or {}, segments)
    ]


def format_path(segments: Iterable[Segment]) -> str:
    """The string form of a tuple path (the inverse of :func:`parse_path`)."""
    out = ""
    for segment in segments:
        if isinstance(segment, str):
            if re.fullmatch(r"[^.\[\]\"]+", segment):
                out += ("." if out else "") + segment
            else:
                out += "[" + json.dumps(segment) + "]"
        elif isinstance(segment, int):
            out += f"[{segment}]"
        elif isinstance(segment, Value):
            v = segment.value
            out += "[=" + (v if isinstance(v, str) else json.dumps(v)) + "]"
        else:
            out += "[" + ",".join(f"{k}={v}" for k, v in segment.items()) + "]"
    return out


def _segment(key: str) -> Segment | None:
    kind, _, rest = key.partition(":")
    if kind == "f":
        return rest
    if kind == "k":
        keys: dict[str, Any] = json.loads(rest)
        return keys
    if kind == "v":
        return Value(json.loads(rest))
    if kind == "i":
        return int(rest)
    return None


def _leaves(node: Mapping[str, Any], prefix: tuple[Segment, ...]) -> Iterable[tuple[Segment, ...]]:
    for key, child in node.items():
        if key == ".":
            yield prefix
            continue
        segment = _segment(key)
        if segment is None:
            continue
        if child:
            yield from _leaves(child, prefix + (segment,))
        else:
            yield prefix + (segment,)


def foreign_fields(
    obj: Mapping[str, Any], manager: str = FIELD_MANAGER, *, include_status: bool = False
) -> list[ForeignField]:
    """Every field in ``obj`` owned by a field manager other than ``manager``.

    Entries of the ``status`` subresource (controllers reporting status) are left
    out unless ``include_status`` is true.
    """
    found: list[ForeignField] = []
    for entry in _managed_fields(obj):
        if entry.get("manager") == manager:
            continue
        subresource = entry.get("subresource", "")
        if subresource == "status" and not include_status:
            continue
        for segments in _leaves(entry.get("fieldsV1") or {}, ()):
            if not segments or (not include_status and segments[0] == "status"):
                continue
            found.append(
                ForeignField(
                    format_path(segments),
                    entry.get("manager", ""),
                    entry.get("operation", ""),
                    _parse_time(entry.get("time")),
                    subresource,
                )
            )
    return found
