"""The one validation of deploy parameters, shared by the generated form, the API and the CLI.

    values = validate_parameters(version, plan, {"replicas": 3})

returns the merged values (schema defaults ← plan values ← the given parameters) or raises a
Django ``ValidationError`` whose ``message_dict`` keys are JSON pointers (``/replicas``,
``/resources/limits/cpu``); errors about the whole document use ``non_field_errors``. Messages
never repeat the value of a ``writeOnly`` (secret) parameter.

Servicebay's rules on top of the schema: a parameter the schema does not declare is an error
(where the schema lists ``properties`` and says nothing about ``additionalProperties``), and a
parameter locked by the plan cannot be changed (sending the locked value itself is fine).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError

from catalog import schema as sch

MAX_PARAMETERS_BYTES = 64 * 1024
NON_FIELD = "non_field_errors"

TYPE_WORDS = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


def normalize_locked(locked: list) -> list[tuple[str, ...]]:
    """Plan ``locked`` entries (``replicas``, ``resources.limits.cpu`` or JSON pointers) as paths."""
    return [sch.path_of(str(name)) for name in locked or [] if str(name).strip()]


def locked_values(version, plan) -> dict[tuple[str, ...], Any]:
    """Each locked path with the value it is locked to (the plan's value, else the default)."""
    if plan is None:
        return {}
    base = sch.deep_merge(sch.defaults(version.parameter_schema or {}), plan.values or {})
    out = {}
    for path in normalize_locked(plan.locked):
        found, value = sch.get_path(base, path)
        out[path] = value if found else None
    return out


def _type_words(expected: Any) -> str:
    if isinstance(expected, list):
        return " or ".join(TYPE_WORDS.get(t, t) for t in expected)
    return TYPE_WORDS.get(expected, str(expected))


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _message(error, secret: bool) -> str:
    v, limit = error.validator, error.validator_value
    if v == "type":
        return f"Must be {_type_words(limit)}."
    if v == "minimum":
        if error.schema.get("exclusiveMinimum") is True:  # draft-04
            return f"Must be greater than {limit}."
        return f"Must be at least {limit}."
    if v == "maximum":
        if error.schema.get("exclusiveMaximum") is True:
            return f"Must be less than {limit}."
        return f"Must be at most {limit}."
    if v == "exclusiveMinimum":
        return f"Must be greater than {error.schema.get('minimum') if limit is True else limit}."
    if v == "exclusiveMaximum":
        return f"Must be less than {error.schema.get('maximum') if limit is True else limit}."
    if v == "multipleOf":
        return f"Must be a multiple of {limit}."
    if v == "minLength":
        return f"Must be at least {limit} character{'s' if limit != 1 else ''} long."
    if v == "maxLength":
        return f"Must be at most {limit} character{'s' if limit != 1 else ''} long."
    if v == "pattern":
        return f"Must match the pattern {limit}."
    if v == "enum":
        return "Must be one of: " + ", ".join(_show(item) for item in limit) + "."
    if v == "const":
        return f"Must be {_show(limit)}."
    if v == "format":
        return f"Must be a valid {sch.FORMAT_LABELS.get(limit, limit)}."
    if v == "minItems":
        return f"Needs at least {limit} item{'s' if limit != 1 else ''}."
    if v == "maxItems":
        return f"Allows at most {limit} item{'s' if limit != 1 else ''}."
    if v == "uniqueItems":
        return "Items must be unique."
    if v == "minProperties":
        return f"Needs at least {limit} entr{'ies' if limit != 1 else 'y'}."
    if v == "maxProperties":
        return f"Allows at most {limit} entr{'ies' if limit != 1 else 'y'}."
    if secret:
        return "Is not valid."
    return error.message[:300] + ("." if not error.message.endswith(".") else "")


def _is_secret(root: dict, path: tuple) -> bool:
    sub = sch.subschema_at(root, path)
    return bool(sub and sub.get("writeOnly"))


def schema_errors(root: dict, values: dict) -> dict[str, list[str]]:
    """Errors of ``values`` against ``root``, keyed by JSON pointer."""
    errors: dict[str, list[str]] = defaultdict(list)
    try:
        validator = sch.make_validator(root)
        found = list(validator.iter_errors(values))
    except Exception as exc:  # a schema that slipped past check_schema (e.g. an unresolvable $ref)
        return {NON_FIELD: [f"The type's parameter schema cannot be used: {exc}"]}
    for error in found:
        path = tuple(str(p) for p in error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            for name in error.validator_value:
                if name not in error.instance:
                    _add(errors, (*path, name), "This parameter is required.")
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set((error.schema.get("properties") or {}).keys())
            patterns = list((error.schema.get("patternProperties") or {}).keys())
            for name in error.instance:
                if name not in known and not any(re.search(p, name) for p in patterns):
                    _add(errors, (*path, name), "Unknown parameter.")
            continue
        secret = bool(error.schema.get("writeOnly")) or _is_secret(root, path)
        _add(errors, path, _message(error, secret))
    return dict(errors)


def _add(errors: dict, path: tuple, message: str) -> None:
    key = sch.pointer(path) or NON_FIELD
    if message not in errors[key]:
        errors[key].append(message)


def unknown_parameters(root: dict, values: Any, path: tuple = ()) -> list[tuple[str, ...]]:
    """Keys the schema does not declare, where it lists properties but says nothing of extras."""
    schema = sch.subschema_at(root, path) if path else sch.resolve(root, root)
    if not isinstance(values, dict) or not isinstance(schema, dict):
        return []
    props = schema.get("properties")
    if not isinstance(props, dict) or "additionalProperties" in schema or "patternProperties" in schema:
        return []
    if any(k in schema for k in ("allOf", "anyOf", "oneOf", "unevaluatedProperties", "dependentSchemas", "if")):
        return []
    found = []
    for key, value in values.items():
        if key not in props:
            found.append((*path, str(key)))
        elif isinstance(value, dict):
            found.extend(unknown_parameters(root, value, (*path, str(key))))
    return found


def validate_parameters(version, plan, params: Any, *, may_change_locked: bool = False) -> dict:
    """Merge and validate deploy parameters; see the module docstring."""
    root = version.parameter_schema or {"type": "object"}
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValidationError({NON_FIELD: ["Parameters must be a JSON object (name: value)."]})
    try:
        size = len(json.dumps(params))
    except (TypeError, ValueError) as exc:
        raise ValidationError({NON_FIELD: [f"Parameters must be JSON values: {exc}"]}) from exc
    if size > MAX_PARAMETERS_BYTES:
        raise ValidationError({NON_FIELD: [f"Parameters are larger than {MAX_PARAMETERS_BYTES // 1024} KiB."]})
    if plan is not None and plan.type_id != version.type_id:
        raise ValidationError({"plan": [f"Plan {plan.slug} is not a plan of {version.type.slug}."]})

    errors: dict[str, list[str]] = defaultdict(list)
    for path in unknown_parameters(root, params):
        errors[sch.pointer(path)].append("Unknown parameter.")
    if not may_change_locked:
        for path, locked_to in locked_values(version, plan).items():
            given, value = sch.get_path(params, path)
            if given and value != locked_to:
                shown = "" if _is_secret(root, path) else f" ({_show(locked_to)})"
                message = f"Locked by plan {plan.name}{shown}; choose another plan to change it."
                errors[sch.pointer(path)].append(message)
    if errors:
        raise ValidationError(dict(errors))

    merged = sch.deep_merge(sch.defaults(root), plan.values if plan is not None else {}, params)
    problems = schema_errors(root, merged)
    if problems:
        raise ValidationError(problems)
    return merged


def error_pointers(exc: ValidationError) -> dict[str, list[str]]:
    """The ``{pointer: [messages]}`` of a ValidationError raised by validate_parameters."""
    return exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD: exc.messages}
