"""What publishing a type version checks (``version_problems``), without saving anything.

* the parameter schema is valid (catalog.schema.check_schema);
* the manifests template compiles, and renders with the defaults and with each plan's values
  (required parameters without a default get their ``examples`` value or a made-up valid one);
* every rendered document is a namespaced Kubernetes object (apiVersion, kind, metadata.name)
  whose name contains the instance name, so two instances never collide (checked by rendering
  for two instance names);
* plans name only parameters the schema declares, and their values are valid;
* outputs point at rendered objects, the binding template compiles and renders.

Messages name the render ("with the defaults", "with plan small"), the document and its line
(of the rendered output) or the template line.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError

from catalog import schema as sch
from catalog.outputs import binding_problems, output_problems
from catalog.parameters import error_pointers, normalize_locked, unknown_parameters, validate_parameters
from catalog.rendering import RenderError, compile_template, render_manifests, template_context

CHECK_NAMESPACE = "servicebay-check"
CHECK_INSTANCES = ("check-one", "check-two")
DNS_SUBDOMAIN_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_1035_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def check_labels(type_slug: str, instance_name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": type_slug,
        "app.kubernetes.io/instance": instance_name,
        "app.kubernetes.io/managed-by": "servicebay",
    }


def sample_parameters(version, plan=None) -> dict:
    """Values for required parameters that neither the defaults nor the plan provide."""
    root = version.parameter_schema or {}
    base = sch.deep_merge(sch.defaults(root), plan.values if plan else {})
    samples: dict = {}

    def visit(nodes: list[sch.Field], present: bool) -> None:
        for node in nodes:
            found, _ = sch.get_path(base, node.path)
            if node.children:
                visit(node.children, present and (node.required or found))
            elif present and node.required and not found:
                sch.set_path(samples, node.path, sch.example_value(node.schema))

    visit(sch.fields(root), True)
    return samples


def _name_problems(objects: list[dict], instance: str) -> list[tuple[dict, str]]:
    problems = []
    seen = set()
    for obj in objects:
        name = obj["metadata"]["name"]
        if not DNS_SUBDOMAIN_RE.match(name):
            problems.append((obj, f"metadata.name {name!r} is not a valid Kubernetes name (lowercase, digits, -)"))
        elif obj["kind"] == "Service" and not DNS_1035_RE.match(name):
            problems.append((obj, f"Service name {name!r} must start with a letter and be at most 63 characters"))
        if instance not in name:
            problems.append(
                (obj, f"metadata.name {name!r} does not contain the instance name; use {{{{ instance.name }}}} in it")
            )
        key = (obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else "", obj["kind"], name)
        if key in seen:
            problems.append((obj, f"two documents render the same {obj['kind']} {name!r}"))
        seen.add(key)
    return problems


def _render_check(version, values: dict, label: str) -> tuple[list[str], list[dict]]:
    """Render for two instance names; problems and the first render's objects."""
    problems: list[str] = []
    renders = []
    for instance in CHECK_INSTANCES:
        try:
            objects = render_manifests(
                version,
                values,
                instance_name=instance,
                namespace=CHECK_NAMESPACE,
                labels=check_labels(version.type.slug, instance),
            )
        except RenderError as exc:
            exc.context = label
            return [exc.describe()], []
        renders.append(objects)
    first, second = renders
    if not first:
        return [f"{label}: the manifests render no Kubernetes object."], []
    for index, (obj, problem) in enumerate(_name_problems(first, CHECK_INSTANCES[0])):
        problems.append(f"{label}: {obj['kind']} {obj['metadata']['name']}: {problem}")
        if index > 10:
            break
    names_one = {(o["kind"], o["metadata"]["name"]) for o in first}
    names_two = {(o["kind"], o["metadata"]["name"]) for o in second}
    for kind, name in sorted(names_one & names_two):
        problems.append(
            f"{label}: {kind} {name!r} has the same name for every instance; two instances would collide "
            "(derive it from {{ instance.name }})."
        )
    return problems, first


def version_problems(version, plans: list) -> dict[str, list[str]]:
    """Everything that stops ``version`` from being published, keyed by field."""
    errors: dict[str, list[str]] = {}
    schema_errors = sch.check_schema(version.parameter_schema)
    if schema_errors:
        return {"parameter_schema": schema_errors}
    if not (version.manifests_template or "").strip():
        return {"manifests_template": ["The manifests template is empty: add at least one Kubernetes object."]}
    try:
        compile_template(version.manifests_template)
    except RenderError as exc:
        return {"manifests_template": [exc.describe()]}

    root = version.parameter_schema
    known = {leaf.path for leaf in sch.leaves(root)} | {node.path for node in _all_nodes(sch.fields(root))}
    plan_errors = []
    for plan in plans:
        for path in normalize_locked(plan.locked):
            if path not in known:
                plan_errors.append(f"plan {plan.slug}: locks {sch.dotted(path)!r}, which the schema does not declare.")
        for path in unknown_parameters(root, plan.values or {}):
            plan_errors.append(f"plan {plan.slug}: sets {sch.dotted(path)!r}, which the schema does not declare.")
        for pointer, messages in _plan_value_errors(version, plan).items():
            for message in messages:
                plan_errors.append(f"plan {plan.slug}: {pointer}: {message}")
    if plan_errors:
        errors["plans"] = plan_errors

    manifest_errors: list[str] = []
    rendered: list[dict] = []
    values: dict[str, Any] = {}
    try:
        values = validate_parameters(version, None, sample_parameters(version))
    except ValidationError as exc:
        errors.setdefault("parameter_schema", []).extend(
            f"with the defaults, {pointer}: {message}"
            for pointer, messages in error_pointers(exc).items()
            for message in messages
        )
    else:
        problems, rendered = _render_check(version, values, "with the defaults")
        manifest_errors.extend(problems)
    for plan in plans:
        if "plans" in errors:
            break
        try:
            plan_values = validate_parameters(version, plan, sample_parameters(version, plan), may_change_locked=True)
        except ValidationError:
            continue  # reported above
        problems, _ = _render_check(version, plan_values, f"with plan {plan.slug}")
        manifest_errors.extend(problems)
    if manifest_errors:
        errors["manifests_template"] = manifest_errors[:30]

    if rendered:
        context = template_context(
            version,
            values,
            instance_name=CHECK_INSTANCES[0],
            namespace=CHECK_NAMESPACE,
            labels=check_labels(version.type.slug, CHECK_INSTANCES[0]),
        )
        problems = output_problems(version.outputs, rendered, context)
        if problems:
            errors["outputs"] = problems
        else:
            names = [o["name"] for o in version.outputs or []]
            binding_context = {
                **context,
                "outputs": {name: f"example-{name}" for name in names},
                "binding": {"name": "check-binding", "id": "00000000-0000-4000-8000-000000000000"},
            }
            problems = binding_problems(version.binding_template, binding_context)
            if problems:
                errors["binding_template"] = problems
    else:
        problems = output_problems(version.outputs)
        if problems:
            errors["outputs"] = problems
        problems = binding_problems(version.binding_template)
        if problems:
            errors["binding_template"] = problems
    return errors


def _all_nodes(nodes: list[sch.Field]) -> list[sch.Field]:
    out = []
    for node in nodes:
        out.append(node)
        out.extend(_all_nodes(node.children))
    return out


def _plan_value_errors(version, plan) -> dict[str, list[str]]:
    try:
        validate_parameters(version, plan, sample_parameters(version, plan), may_change_locked=True)
    except ValidationError as exc:
        return error_pointers(exc)
    return {}
