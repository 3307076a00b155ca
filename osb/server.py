"""The broker side of the OSB API (2.17), as plain functions: what a broker needs to check requests.

* ``check_api_version`` — the ``X-Broker-API-Version`` header (``MAJOR.MINOR``; 2.14 and later accepted);
* ``parse_basic_auth`` — the ``Authorization: Basic`` header;
* ``parse_originating_identity`` — ``X-Broker-API-Originating-Identity: <platform> <base64 JSON>``
  (``check_originating_identity`` says what is wrong with a malformed one: the broker answers 400);
* ``split_instances_path`` — the ids in ``service_instances/…`` from the raw (still percent-encoded) path,
  so ids holding ``/`` (sent as ``%2F``) are found exactly;
* ``ProvisionRequest`` / ``UpdateRequest`` / ``BindRequest`` — request bodies, checked against the spec
  (``ShapeError`` lists every defect: the broker answers 400 with them);
* ``accepts_incomplete`` — the query parameter;
* ``digest`` — a fingerprint of a request's attributes ("identical" repeats vs. "different attributes");
* ``last_operation_body`` — the body of both ``last_operation`` endpoints (``instance_usable`` /
  ``update_repeatable`` only for a failed update or deprovision, as the spec requires).

No Django here: Servicebay's broker (``osbapi/``) maps these onto its service functions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from osb.errors import ShapeError
from osb.models import MAX_OPERATION_LENGTH, OperationState, is_semver

MIN_API_VERSION = (2, 14)
MAX_API_MAJOR = 2
_VERSION = re.compile(r"^(\d{1,4})\.(\d{1,4})$")


def check_api_version(header: str | None) -> str | None:
    """``None`` if the platform's API version is acceptable, else the reason (answer 412 with it)."""
    if header is None or not header.strip():
        return "The X-Broker-API-Version header is missing; this broker needs 2.14 or later (it speaks 2.17)."
    match = _VERSION.match(header.strip())
    if not match:
        return f"X-Broker-API-Version {header.strip()[:20]!r} is not MAJOR.MINOR; send 2.14 or later (2.17)."
    major, minor = int(match.group(1)), int(match.group(2))
    if major != MAX_API_MAJOR or (major, minor) < MIN_API_VERSION:
        return f"OSB API {major}.{minor} is not supported; use 2.14 or later (this broker speaks 2.17)."
    return None


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """``(username, password)`` from an ``Authorization: Basic …`` header, else ``None``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        return None
    return username, password


def parse_originating_identity(header: str | None) -> dict[str, Any] | None:
    """``{"platform": …, "value": {…}}`` from the header; ``{"raw": …}`` if it is not well-formed."""
    if not header or not header.strip():
        return None
    platform, _, value = header.strip().partition(" ")
    try:
        decoded = json.loads(base64.b64decode(value.strip(), validate=True).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurd nesting
        return {"platform": platform[:100], "raw": header.strip()[:500]}
    if not isinstance(decoded, dict):
        return {"platform": platform[:100], "raw": header.strip()[:500]}
    return {"platform": platform[:100], "value": decoded}


def check_originating_identity(header: str | None, context: dict[str, Any] | None = None) -> str | None:
    """``None`` if the header is absent or well-formed, else the reason (answer 400 with it).

    Spec, "Originating Identity": "The format of the header MUST be: ``Platform value``. ``Platform`` MUST be
    a non-empty string [...] When ``context`` is sent as part of a message, this value MUST be the same as
    the ``context.platform`` value. ``value`` MUST be a Base64 encoded string. The string MUST be a
    serialized JSON object."
    """
    if header is None:
        return None
    parsed = parse_originating_identity(header)
    if parsed is None or not parsed.get("platform") or len(header.strip().split()) != 2:
        return "X-Broker-API-Originating-Identity must be '<platform> <base64-encoded JSON object>'."
    if "value" not in parsed:
        return "X-Broker-API-Originating-Identity: the value must be a Base64-encoded serialized JSON object."
    platform = (context or {}).get("platform") if isinstance(context, dict) else None
    if isinstance(platform, str) and platform != parsed["platform"]:
        return "X-Broker-API-Originating-Identity: the platform must be the same as context.platform."
    return None


INSTANCE_ENDPOINTS = ("instance", "instance_last_operation", "binding", "binding_last_operation")


def _shape(parts: list[str]) -> tuple[str, dict[str, str]] | None:
    if len(parts) == 1:
        return "instance", {"instance_id": parts[0]}
    if len(parts) == 2 and parts[1] == "last_operation":
        return "instance_last_operation", {"instance_id": parts[0]}
    if len(parts) == 3 and parts[1] == "service_bindings":
        return "binding", {"instance_id": parts[0], "binding_id": parts[2]}
    if len(parts) == 4 and parts[1] == "service_bindings" and parts[3] == "last_operation":
        return "binding_last_operation", {"instance_id": parts[0], "binding_id": parts[2]}
    return None


def split_instances_path(raw: str) -> tuple[str, dict[str, str]] | None:
    """``(endpoint, ids)`` for the raw (still percent-encoded) URL path after ``/v2/service_instances/``:
    split on ``/`` *before* percent-decoding, so ``a%2Fb`` is the one id ``a/b`` (spec, "URL Properties":
    a character outside the unreserved set "SHOULD be percent-encoded"). ``None``: no endpoint."""
    from urllib.parse import unquote

    parts = raw.split("/")
    if not all(parts):
        return None
    try:
        parts = [unquote(p, errors="strict") for p in parts]
    except UnicodeDecodeError:
        return None
    return _shape(parts)


def resolve_instances_path(path: str) -> tuple[str, dict[str, str]] | str | None:
    """The same for an already *decoded* path, where ``%2F`` and ``/`` look alike (Django's test client,
    servers that do not pass the raw URI). The spec's routes win: ``…/last_operation`` and
    ``…/service_bindings/…`` are read as those endpoints, and an id may hold ``/`` only where that leaves
    a single reading; otherwise the reason is returned (answer 400). ``None``: no endpoint."""
    if not path or path.startswith("/") or path.endswith("/"):
        return None
    lo = "/last_operation"
    sb = "/service_bindings/"
    for endpoint in ("binding_last_operation", "binding"):
        body = path[: -len(lo)] if endpoint == "binding_last_operation" else path
        if endpoint == "binding_last_operation" and not path.endswith(lo):
            continue
        readings = []
        start = body.find(sb)
        while start > 0:
            instance_id, binding_id = body[:start], body[start + len(sb) :]
            if binding_id and not binding_id.startswith("/"):
                readings.append({"instance_id": instance_id, "binding_id": binding_id})
            start = body.find(sb, start + 1)
        if len(readings) > 1:
            readings = [r for r in readings if "/" not in r["instance_id"] + r["binding_id"]] or readings
        if len(readings) == 1:
            return endpoint, readings[0]
        if readings:
            return "The URL is ambiguous: send ids that hold '/' percent-encoded (%2F)."
    if path.endswith(lo) and len(path) > len(lo):
        return "instance_last_operation", {"instance_id": path[: -len(lo)]}
    return "instance", {"instance_id": path}


def accepts_incomplete(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def digest(attributes: dict[str, Any]) -> str:
    """A fingerprint of a request's attributes (values may hold secrets; the fingerprint does not)."""
    return hashlib.sha256(json.dumps(attributes, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def last_operation_body(
    state: OperationState | str,
    description: str | None = None,
    *,
    instance_usable: bool | None = None,
    update_repeatable: bool | None = None,
) -> dict[str, Any]:
    """Spec, "Polling Last Operation for Service Instances": ``instance_usable`` — "If an update or
    deprovisioning operation failed, this flag indicates whether or not the Service Instance is still
    usable"; ``update_repeatable`` — "If an update operation failed, this flag indicates whether this
    update can be repeated or not"; both "MUST NOT be present for errors of other operations" (the
    caller passes them only for those), and only with ``"state": "failed"``."""
    state = OperationState(state)
    body: dict[str, Any] = {"state": str(state)}
    if description:
        body["description"] = description[:1000]
    if state == OperationState.FAILED:
        if instance_usable is not None:
            body["instance_usable"] = bool(instance_usable)
        if update_repeatable is not None:
            body["update_repeatable"] = bool(update_repeatable)
    return body


def check_operation(value: str | None) -> str | None:
    """The ``operation`` query parameter: absent, or a non-empty string of at most 10,000 characters."""
    if value is None:
        return None
    if not value or len(value) > MAX_OPERATION_LENGTH:
        raise ShapeError(["operation: must be a non-empty string of at most 10,000 characters"], "request")
    return value


# --- request bodies ---------------------------------------------------------------------------


class _Body:
    def __init__(self, data: Any, what: str):
        self.problems: list[str] = []
        self.what = what
        if not isinstance(data, dict):
            raise ShapeError([f"the body must be a JSON object, not {type(data).__name__}"], what)
        self.data = data

    def str(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problems.append(f"{key}: is required")
            return None
        if not isinstance(value, str) or not value:
            self.problems.append(f"{key}: must be a non-empty string")
            return None
        return value

    def obj(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problems.append(f"{key}: must be an object")
            return None
        return value

    def maintenance_version(self, key: str = "maintenance_info") -> str | None:
        info = self.obj(key)
        if info is None:
            return None
        version = info.get("version")
        if not isinstance(version, str) or not is_semver(version):
            self.problems.append(f"{key}.version: must be a semantic version")
            return None
        return version

    def done(self) -> None:
        if self.problems:
            raise ShapeError(self.problems, self.what)


@dataclass(frozen=True)
class ProvisionRequest:
    service_id: str
    plan_id: str
    context: dict[str, Any] = field(default_factory=dict)
    organization_guid: str | None = None
    space_guid: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    maintenance_version: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> ProvisionRequest:
        """``organization_guid``/``space_guid`` are checked when present (non-empty strings) but not
        required: Kubernetes platforms send only ``context`` (as openbrokerapi's
        ``DISABLE_SPACE_ORG_GUID_CHECK``)."""
        b = _Body(data, "provision request")
        request = cls(
            service_id=b.str("service_id", required=True) or "",
            plan_id=b.str("plan_id", required=True) or "",
            context=b.obj("context") or {},
            organization_guid=b.str("organization_guid"),
            space_guid=b.str("space_guid"),
            parameters=b.obj("parameters") or {},
            maintenance_version=b.maintenance_version(),
        )
        b.done()
        return request

    def attributes(self) -> dict[str, Any]:
        """What makes two provision requests for one id "identical" (the context may change)."""
        return {
            "service_id": self.service_id,
            "plan_id": self.plan_id,
            "parameters": self.parameters,
            "organization_guid": self.organization_guid or self.context.get("organization_guid"),
            "space_guid": self.space_guid or self.context.get("space_guid"),
        }


@dataclass(frozen=True)
class UpdateRequest:
    service_id: str
    plan_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] | None = None
    previous_plan_id: str | None = None
    maintenance_version: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> UpdateRequest:
        b = _Body(data, "update request")
        previous = b.obj("previous_values") or {}
        previous_plan = previous.get("plan_id")
        if previous_plan is not None and (not isinstance(previous_plan, str) or not previous_plan):
            b.problems.append("previous_values.plan_id: must be a non-empty string")
            previous_plan = None
        request = cls(
            service_id=b.str("service_id", required=True) or "",
            plan_id=b.str("plan_id"),
            context=b.obj("context") or {},
            parameters=b.obj("parameters"),
            previous_plan_id=previous_plan,
            maintenance_version=b.maintenance_version(),
        )
        b.done()
        return request

    def attributes(self) -> dict[str, Any]:
        return {
            "service_id": self.service_id,
            "plan_id": self.plan_id,
            "parameters": self.parameters,
            "maintenance_version": self.maintenance_version,
        }


@dataclass(frozen=True)
class BindRequest:
    service_id: str
    plan_id: str
    context: dict[str, Any] = field(default_factory=dict)
    app_guid: str | None = None
    bind_resource: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> BindRequest:
        b = _Body(data, "bind request")
        bind_resource = b.obj("bind_resource") or {}
        app_guid = b.str("app_guid")
        nested = bind_resource.get("app_guid")
        if nested is not None and (not isinstance(nested, str) or not nested):
            b.problems.append("bind_resource.app_guid: must be a non-empty string")
            nested = None
        request = cls(
            service_id=b.str("service_id", required=True) or "",
            plan_id=b.str("plan_id", required=True) or "",
            context=b.obj("context") or {},
            app_guid=nested or app_guid,
            bind_resource=bind_resource,
            parameters=b.obj("parameters") or {},
        )
        b.done()
        return request

    def attributes(self) -> dict[str, Any]:
        return {
            "service_id": self.service_id,
            "plan_id": self.plan_id,
            "app_guid": self.app_guid,
            "bind_resource": self.bind_resource,
            "parameters": self.parameters,
        }
