"""The deploy form, generated server-side from a version's parameter schema.

    FormClass = parameter_form_class(version, plan)
    form = FormClass(request.POST or None)
    if form.is_valid():
        form.values  # merged and validated by catalog.parameters.validate_parameters

One field per schema leaf, named by its dotted path (``resources.limits.cpu``); nested objects
become fieldsets. Widgets follow type, format and ``x-widget``: text/email/url/date inputs,
number inputs with min/max/step, checkboxes, selects for enums, textareas for lists (one item
per line) and free-form JSON, password inputs for ``writeOnly`` secrets (never prefilled).
Constraints are also HTML attributes (min, max, step, minlength, maxlength, pattern, required)
so the browser checks what it can; the server always checks everything.

Fields only *convert* what the browser sends (``"3"`` → 3; what does not convert is passed on
as text) and an empty input means "not given" (the default applies). ``clean()`` then calls
``validate_parameters``, so the form, the API and the CLI share one validation and one set of
error messages; errors land next to the field whose JSON pointer they name. Parameters locked
by the plan are shown read-only and are not submitted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from catalog import schema as sch
from catalog.parameters import NON_FIELD, error_pointers, locked_values, validate_parameters

ABSENT = object()
INT_RE = re.compile(r"^\s*[+-]?\d+\s*$")
HTML_INPUT_TYPES = {"email": "email", "uri": "url", "date": "date"}
FORMAT_PATTERNS = {
    "dns-label": r"[a-z0-9]([\-a-z0-9]{0,61}[a-z0-9])?",
    "k8s-quantity": r"[+\-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[mkMGTPE]|[eE][+\-]?[0-9]+)?",
    "ipv4": r"([0-9]{1,3}\.){3}[0-9]{1,3}",
}
FORMAT_PLACEHOLDERS = {
    "date-time": "2025-01-31T12:00:00Z",
    "time": "12:00:00",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "k8s-quantity": "500m, 1, 2Gi",
    "hostname": "db.example.com",
    "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10",
}


def _number(raw: str) -> Any:
    text = raw.strip()
    if INT_RE.match(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return raw
    if value != value or value in (float("inf"), float("-inf")):
        return raw
    return value


def convert_scalar(kind: str, raw: str) -> Any:
    """Text as a browser sends it → a JSON value of ``kind`` (or the text itself if it does not convert)."""
    if kind in ("integer", "number"):
        return _number(raw)
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered in ("true", "on", "yes", "1"):
            return True
        if lowered in ("false", "off", "no", "0"):
            return False
        return raw
    if kind in ("object", "json"):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def display_value(kind: str, value: Any, *, item_kind: str = "string") -> str:
    """A JSON value as the text a field shows."""
    if value is None:
        return ""
    if kind == "array" and isinstance(value, list) and item_kind in ("string", "integer", "number", "boolean"):
        return "\n".join(display_value(item_kind, v) for v in value)
    if kind in ("array", "object", "json"):
        return json.dumps(value, indent=2)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ParameterField(forms.Field):
    """Converts, never rejects: validation is validate_parameters' job."""

    def __init__(self, *, leaf: sch.Field, **kwargs):
        self.leaf = leaf
        super().__init__(required=False, **kwargs)

    def clean(self, value):
        if self.disabled:
            return ABSENT
        return self.convert(value)

    def convert(self, value):
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return ABSENT
        return convert_scalar(self.leaf.kind, value)

    def has_changed(self, initial, data):
        return False


class BooleanParameterField(ParameterField):
    widget = forms.CheckboxInput

    def convert(self, value):
        return bool(value) if not isinstance(value, str) else convert_scalar("boolean", value) if value else False


class ChoiceParameterField(ParameterField):
    def convert(self, value):
        if value in (None, ""):
            return ABSENT
        for choice in self.leaf.schema.get("enum") or []:
            if display_value(self.leaf.kind, choice) == value:
                return choice
        return convert_scalar(self.leaf.kind, value)


class ListParameterField(ParameterField):
    """A list of scalars: one item per line."""

    def convert(self, value):
        if value is None or not str(value).strip():
            return ABSENT
        if self.leaf.item_kind not in ("string", "integer", "number", "boolean"):
            return convert_scalar("json", value)
        lines = [line for line in str(value).replace("\r\n", "\n").split("\n") if line.strip()]
        return [convert_scalar(self.leaf.item_kind, line) for line in lines]


def html_pattern(pattern: str) -> str:
    """A JSON Schema (search) pattern as an HTML ``pattern`` (anchored; browsers compile it with /v)."""
    converted = re.sub(r"(?<!\\)-\]", r"\\-]", pattern)
    if converted.startswith("^") and converted.endswith("$") and not converted.endswith("\\$"):
        return converted[1:-1]
    return f".*(?:{converted}).*"


def _bounds(schema: dict) -> tuple[Any, Any, bool, bool]:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    low_excl, high_excl = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    min_exclusive = max_exclusive = False
    if low_excl is True:
        min_exclusive = True
    elif isinstance(low_excl, int | float) and not isinstance(low_excl, bool):
        minimum, min_exclusive = low_excl, True
    if high_excl is True:
        max_exclusive = True
    elif isinstance(high_excl, int | float) and not isinstance(high_excl, bool):
        maximum, max_exclusive = high_excl, True
    return minimum, maximum, min_exclusive, max_exclusive


def constraint_summary(leaf: sch.Field) -> str:
    """Constraints in words, for help texts and the parameter reference."""
    schema = leaf.schema
    parts = []
    minimum, maximum, min_excl, max_excl = _bounds(schema)
    if minimum is not None and maximum is not None:
        parts.append(f"{minimum}{' (excl.)' if min_excl else ''}–{maximum}{' (excl.)' if max_excl else ''}")
    elif minimum is not None:
        parts.append(f"{'>' if min_excl else '≥'} {minimum}")
    elif maximum is not None:
        parts.append(f"{'<' if max_excl else '≤'} {maximum}")
    if "multipleOf" in schema:
        parts.append(f"multiple of {schema['multipleOf']}")
    if "minLength" in schema or "maxLength" in schema:
        parts.append(f"{schema.get('minLength', 0)}–{schema.get('maxLength', '∞')} characters")
    if "pattern" in schema:
        parts.append(f"pattern {schema['pattern']}")
    if "format" in schema:
        parts.append(sch.FORMAT_LABELS.get(schema["format"], schema["format"]))
    if schema.get("enum"):
        parts.append("one of " + ", ".join(display_value(leaf.kind, v) for v in schema["enum"]))
    if "minItems" in schema or "maxItems" in schema:
        parts.append(f"{schema.get('minItems', 0)}–{schema.get('maxItems', '∞')} items")
    return "; ".join(parts)


def _widget_for(leaf: sch.Field, locked: bool, required_in_browser: bool) -> forms.Widget:
    schema, kind = leaf.schema, leaf.kind
    hint = schema.get("x-widget")
    attrs: dict[str, Any] = {}
    if schema.get("x-placeholder"):
        attrs["placeholder"] = str(schema["x-placeholder"])
    if required_in_browser and kind != "boolean":
        attrs["required"] = True
    if kind == "boolean":
        return forms.CheckboxInput(attrs={"class": "form-check-input"})
    attrs["class"] = "form-control"
    if schema.get("enum") and kind in ("string", "integer", "number"):
        choices = [(display_value(kind, v), display_value(kind, v)) for v in schema["enum"]]
        if not required_in_browser:
            choices = [("", "—"), *choices]
        if hint == "radio":
            return forms.RadioSelect(choices=choices, attrs={**attrs, "class": "form-check-input"})
        return forms.Select(choices=choices, attrs={**attrs, "class": "form-select"})
    if kind in ("integer", "number"):
        minimum, maximum, min_excl, max_excl = _bounds(schema)
        if minimum is not None:
            attrs["min"] = minimum + 1 if (min_excl and kind == "integer") else minimum
        if maximum is not None:
            attrs["max"] = maximum - 1 if (max_excl and kind == "integer") else maximum
        step = schema.get("multipleOf")
        attrs["step"] = step if isinstance(step, int | float) else (1 if kind == "integer" else "any")
        if hint == "range" and minimum is not None and maximum is not None:
            return forms.NumberInput(attrs={**attrs, "type": "range", "class": "form-range"})
        return forms.NumberInput(attrs=attrs)
    if kind == "array":
        if leaf.item_kind in ("string", "integer", "number", "boolean"):
            attrs.setdefault("placeholder", "one item per line")
        return forms.Textarea(attrs={**attrs, "rows": 3, "class": "form-control font-monospace", "data-list": "lines"})
    if kind in ("object", "json") or hint == "json":
        return forms.Textarea(attrs={**attrs, "rows": 4, "class": "form-control font-monospace", "data-list": "json"})
    # strings
    for key, attr in (("minLength", "minlength"), ("maxLength", "maxlength")):
        if isinstance(schema.get(key), int):
            attrs[attr] = schema[key]
    fmt = schema.get("format")
    if isinstance(schema.get("pattern"), str):
        attrs["pattern"] = html_pattern(schema["pattern"])
    elif fmt in FORMAT_PATTERNS:
        attrs["pattern"] = FORMAT_PATTERNS[fmt]
    if fmt in FORMAT_PLACEHOLDERS:
        attrs.setdefault("placeholder", FORMAT_PLACEHOLDERS[fmt])
    if leaf.secret:
        return forms.PasswordInput(render_value=False, attrs={**attrs, "autocomplete": "new-password"})
    if hint == "textarea" or (isinstance(schema.get("maxLength"), int) and schema["maxLength"] > 256):
        return forms.Textarea(attrs={**attrs, "rows": 4})
    input_type = HTML_INPUT_TYPES.get(fmt)
    if input_type:
        return forms.TextInput(attrs={**attrs, "type": input_type})
    return forms.TextInput(attrs=attrs)


@dataclass
class Fieldset:
    legend: str
    description: str
    names: list[str] = field(default_factory=list)
    depth: int = 0


class BaseParameterForm(forms.Form):
    """A generated parameter form; see the module docstring. Subclasses are built at runtime."""

    version = None
    plan = None
    leaves: list[sch.Field] = []
    fieldset_specs: list[Fieldset] = []

    def __init__(self, data=None, *args, initial_values: dict | None = None, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.values: dict | None = None
        root = self.version.parameter_schema or {}
        preset = sch.deep_merge(sch.defaults(root), self.plan.values if self.plan else {}, initial_values or {})
        locks = locked_values(self.version, self.plan)
        for leaf in self.leaves:
            form_field = self.fields[leaf.name]
            found, value = sch.get_path(preset, leaf.path)
            lock = _lock_for(leaf.path, locks)
            if lock is not None:
                form_field.disabled = True
                found, value = lock
                form_field.widget.attrs["readonly"] = True
                form_field.help_text = (f"Locked by plan {self.plan.name}. " + (form_field.help_text or "")).strip()
            if found and not leaf.secret:
                form_field.initial = True if leaf.kind == "boolean" and value else value
                if leaf.kind != "boolean":
                    form_field.initial = display_value(leaf.kind, value, item_kind=leaf.item_kind)
            elif leaf.kind == "boolean":
                form_field.initial = False

    @property
    def fieldsets(self):
        """[(Fieldset, [BoundField, …]), …] for templates."""
        return [(spec, [self[name] for name in spec.names]) for spec in self.fieldset_specs if spec.names]

    def given_parameters(self) -> dict:
        """The parameters this submission gives (empty and locked fields left out)."""
        params: dict = {}
        for leaf in self.leaves:
            value = self.cleaned_data.get(leaf.name, ABSENT)
            if value is not ABSENT:
                sch.set_path(params, leaf.path, value)
        return params

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.values = validate_parameters(self.version, self.plan, self.given_parameters())
        except ValidationError as exc:
            self.values = None
            for pointer, messages in error_pointers(exc).items():
                target = self.field_for_pointer(pointer)
                if target is None:
                    prefix = "" if pointer == NON_FIELD else f"{self.label_for_pointer(pointer)}: "
                    self.add_error(None, [f"{prefix}{m}" for m in messages])
                else:
                    self.add_error(target, messages)
        return cleaned

    def field_for_pointer(self, pointer: str) -> str | None:
        """The field an error about ``pointer`` belongs to (the longest field path it starts with)."""
        if pointer == NON_FIELD:
            return None
        path = sch.path_of(pointer)
        best = None
        for leaf in self.leaves:
            if path[: len(leaf.path)] == leaf.path and (best is None or len(leaf.path) > len(best.path)):
                best = leaf
        return best.name if best else None

    def label_for_pointer(self, pointer: str) -> str:
        return sch.dotted(sch.path_of(pointer)) or "parameters"

    def add_error(self, field, error):
        super().add_error(field, error)
        if field in self.fields:
            widget = self.fields[field].widget
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
            widget.attrs["aria-invalid"] = "true"

    @property
    def masked_values(self) -> dict | None:
        return sch.mask(self.version.parameter_schema or {}, self.values) if self.values is not None else None


def _lock_for(path: tuple, locks: dict) -> tuple[bool, object] | None:
    """(found, value) a leaf is locked to (by itself or by a locked object above it), else None."""
    for locked_path, value in locks.items():
        if path[: len(locked_path)] == locked_path:
            return sch.get_path({"_": value}, ("_", *path[len(locked_path) :]))
    return None


def _field_for(leaf: sch.Field, *, locked: bool, preset_found: bool) -> forms.Field:
    required_in_browser = leaf.required and not preset_found and not locked
    widget = _widget_for(leaf, locked, required_in_browser)
    help_parts = [leaf.description]
    summary = constraint_summary(leaf)
    if summary:
        help_parts.append(f"({summary})")
    if leaf.kind == "array" and leaf.item_kind in ("string", "integer", "number", "boolean"):
        help_parts.append("One item per line.")
    elif leaf.kind in ("object", "json", "array"):
        help_parts.append("JSON.")
    if leaf.secret:
        help_parts.append("Secret: never shown again.")
    if not leaf.required and not preset_found:
        help_parts.append("Optional.")
    kwargs = {"leaf": leaf, "label": leaf.title, "help_text": " ".join(p for p in help_parts if p), "widget": widget}
    if leaf.kind == "boolean":
        return BooleanParameterField(**kwargs)
    if leaf.schema.get("enum") and leaf.kind in ("string", "integer", "number"):
        return ChoiceParameterField(**kwargs)
    if leaf.kind == "array":
        return ListParameterField(**kwargs)
    return ParameterField(**kwargs)


def parameter_form_class(version, plan=None) -> type[BaseParameterForm]:
    """A form class for deploying ``version`` with ``plan`` (see the module docstring)."""
    root = version.parameter_schema or {}
    tree = sch.fields(root)
    preset = sch.deep_merge(sch.defaults(root), plan.values if plan else {})
    locks = locked_values(version, plan)
    declared: dict[str, forms.Field] = {}
    leaves: list[sch.Field] = []
    fieldsets: list[Fieldset] = [Fieldset(legend="", description="")]

    def visit(nodes: list[sch.Field], fieldset: Fieldset, trail: list[str], depth: int) -> None:
        groups = []
        for node in nodes:
            if node.children:
                groups.append(node)
                continue
            found, _ = sch.get_path(preset, node.path)
            locked = _lock_for(node.path, locks) is not None
            declared[node.name] = _field_for(node, locked=locked, preset_found=found)
            leaves.append(node)
            fieldset.names.append(node.name)
        for group in groups:
            legend_trail = [*trail, group.title]
            child = Fieldset(legend=" › ".join(legend_trail), description=group.description, depth=depth + 1)
            fieldsets.append(child)
            visit(group.children, child, legend_trail, depth + 1)

    visit(tree, fieldsets[0], [], 0)
    attrs = {
        **declared,
        "version": version,
        "plan": plan,
        "leaves": leaves,
        "fieldset_specs": fieldsets,
        "__module__": __name__,
    }
    return type(f"{version.type.slug.title().replace('-', '')}ParameterForm", (BaseParameterForm,), attrs)


# --- the parameter reference ----------------------------------------------------------------


@dataclass
class ReferenceRow:
    name: str
    pointer: str
    type: str
    default: str
    constraints: str
    description: str
    required: bool
    secret: bool
    locked_by: list[str]


def parameter_reference(version, plans: list | None = None) -> list[ReferenceRow]:
    """One row per parameter for the type page (defaults of secrets are never shown)."""
    root = version.parameter_schema or {}
    defaults = sch.defaults(root)
    plan_locks = [(plan.slug, locked_values(version, plan)) for plan in plans or []]
    rows = []
    for leaf in sch.leaves(root):
        found, value = sch.get_path(defaults, leaf.path)
        kind = leaf.kind if leaf.kind != "array" else f"list of {leaf.item_kind}"
        if leaf.schema.get("format"):
            kind += f" ({leaf.schema['format']})"
        rows.append(
            ReferenceRow(
                name=leaf.name,
                pointer=leaf.pointer,
                type=kind,
                default="" if leaf.secret or not found else display_value(leaf.kind, value, item_kind=leaf.item_kind),
                constraints=constraint_summary(leaf),
                description=leaf.description or leaf.title,
                required=leaf.required,
                secret=leaf.secret,
                locked_by=[slug for slug, locks in plan_locks if _lock_for(leaf.path, locks) is not None],
            )
        )
    return rows
