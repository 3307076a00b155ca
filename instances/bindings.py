"""What a binding returns: the type version's binding template (catalog/outputs.py), rendered per binding.

Template strings are rendered (sandboxed) with ``instance``, ``outputs``, ``parameters`` and
``binding``; generators (``{"generate": "password"|"token"|"uuid", "length": N}``) make a
per-binding secret once, when the binding is requested, stored encrypted.
"""

from __future__ import annotations

import secrets
import string
import uuid
from typing import Any


def generate_secrets(template: dict[str, Any]) -> dict[str, str]:
    generated = {}
    for key, spec in (template or {}).items():
        if not isinstance(spec, dict) or not spec.get("generate"):
            continue
        length = int(spec.get("length", 24))
        if spec["generate"] == "uuid":
            generated[key] = str(uuid.uuid4())
        elif spec["generate"] == "token":
            generated[key] = secrets.token_hex(length)[:length]
        else:
            alphabet = string.ascii_letters + string.digits
            generated[key] = "".join(secrets.choice(alphabet) for _ in range(length))
    return generated


def render_credentials(template: dict[str, Any], *, instance, binding, parameters: dict, generated: dict) -> dict:
    from catalog.rendering import render_value

    context = {
        "instance": {"name": instance.name, "namespace": instance.namespace, "id": str(instance.pk)},
        "outputs": instance.outputs or {},
        "parameters": parameters,
        "binding": {"name": binding.name, "id": str(binding.pk), **generated},
    }
    credentials: dict[str, Any] = {}
    for key, spec in (template or {}).items():
        if key in generated:
            credentials[key] = generated[key]
        elif isinstance(spec, str):
            credentials[key] = render_value(spec, {**context, "credentials": credentials})
        elif spec is not None:
            credentials[key] = spec
    return credentials
