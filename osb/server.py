"""The broker side of the OSB API (2.17), as plain functions: what a broker needs to check requests.

* ``check_api_version`` — the ``X-Broker-API-Version`` header (``MAJOR.MINOR``; 2.14 and later accepted);
* ``parse_basic_auth`` — the ``Authorization: Basic`` header;
* ``parse_originating_identity`` — ``X-Broker-API-Originating-Identity: <platform> <base64 JSON>``;
* ``ProvisionRequest`` / ``UpdateRequest`` / ``BindRequest`` — request bodies, checked against the spec
  (``ShapeError`` lists every defect: the broker answers 400 with them);
* ``accepts_incomplete`` — the query parameter;
* ``digest`` — a fingerprint of a request's attributes ("identical" repeats vs. "different attributes");
* ``last_operation_body`` — the body of both ``last_operation`` endpoints.

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
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return {"platform": platform[:100], "raw": header.strip()[:500]}
    if not isinstance(decoded, dict):
        return {"platform": platform[:100], "raw": header.strip()[:500]}
    return {"platform": platform[:100], "value": decoded}


def accepts_incomplete(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def digest(attributes: dict[str, Any]) -> str:
    """A fingerprint of a request's attributes (values may hold secrets; the fingerprint does not)."""
    return hashlib.sha256(json.dumps(attributes, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def last_operation_body(state: OperationState | str, description: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"state": str(OperationState(state))}
    if description:
        body["description"] = description[:1000]
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
