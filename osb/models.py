"""Typed shapes of OSB API 2.17 documents: the catalog and the bodies of every response.

Every class has ``from_json(data)`` which checks what the spec requires (required fields, types,
non-empty strings, enumerations, semantic versions, 10,000-character operation strings...) and raises
``osb.errors.ShapeError`` listing *every* defect with its JSON path, and ``to_json()`` which gives the
spec's JSON back (for the broker side). Unknown fields are ignored, as the spec's "Vendor Extension
Fields" section requires of receivers.

Fields that are not part of the JSON (the HTTP ``status``, the ``request_id`` the client sent, the
``Retry-After`` header of a poll) are filled in by ``osb.client``. Credentials never appear in a repr.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, TypeVar

from osb.errors import ShapeError

MAX_OPERATION_LENGTH = 10_000
MAX_SCHEMA_BYTES = 64 * 1024

# semver.org's regular expression (2.0.0).
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_PORT_OR_RANGE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")

T = TypeVar("T")
_MISSING = object()


class _Reader:
    """Reads fields of one JSON object, collecting problems (with JSON paths) into a shared list."""

    def __init__(self, data: Any, path: str = "", problems: list[str] | None = None):
        self.problems: list[str] = problems if problems is not None else []
        self.path = path
        self.valid = isinstance(data, dict)
        if not self.valid:
            self.problems.append(f"{path or '(body)'}: must be a JSON object, not {_kind(data)}")
            data = {}
        self.data: dict[str, Any] = data

    def at(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def problem(self, key: str | int, message: str) -> None:
        if self.valid:  # inside something that is not an object, that one problem says it all
            self.problems.append(f"{self.at(key)}: {message}")

    def _get(self, key: str, required: bool, nullable: bool) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING or (value is None and nullable):
            if required and value is _MISSING:
                self.problem(key, "is required")
            return _MISSING
        return value

    def str(
        self,
        key: str,
        *,
        required: bool = False,
        nullable: bool = False,
        allow_empty: bool = False,
        max_length: int | None = None,
    ) -> str | None:
        value = self._get(key, required, nullable)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.problem(key, f"must be a string, not {_kind(value)}")
            return None
        if not value and not allow_empty:
            self.problem(key, "must be a non-empty string")
            return None
        if max_length is not None and len(value) > max_length:
            self.problem(key, f"must not be longer than {max_length} characters")
            return None
        return value

    def bool(self, key: str, *, required: bool = False) -> bool | None:
        value = self._get(key, required, nullable=False)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.problem(key, f"must be a boolean, not {_kind(value)}")
            return None
        return value

    def int(self, key: str, *, required: bool = False, minimum: int | None = None) -> int | None:
        value = self._get(key, required, nullable=False)
        if value is _MISSING:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem(key, f"must be an integer, not {_kind(value)}")
            return None
        if minimum is not None and value < minimum:
            self.problem(key, f"must be at least {minimum}")
            return None
        return value

    def obj(self, key: str, *, required: bool = False, nullable: bool = True) -> dict[str, Any] | None:
        value = self._get(key, required, nullable)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.problem(key, f"must be a JSON object, not {_kind(value)}")
            return None
        return value

    def array(self, key: str, *, required: bool = False, non_empty: bool = False) -> list[Any] | None:
        value = self._get(key, required, nullable=False)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.problem(key, f"must be an array, not {_kind(value)}")
            return None
        if non_empty and not value:
            self.problem(key, "must not be empty")
        return value

    def str_list(self, key: str) -> tuple[str, ...]:
        items = self.array(key) or []
        out: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, str) and item:
                out.append(item)
            else:
                self.problems.append(f"{self.at(key)}[{i}]: must be a non-empty string")
        return tuple(out)

    def child(self, key: str, parse: Callable[[_Reader], T], *, required: bool = False) -> T | None:
        value = self._get(key, required, nullable=True)
        if value is _MISSING:
            return None
        return parse(_Reader(value, self.at(key), self.problems))

    def children(self, key: str, parse: Callable[[_Reader], T], *, required=False, non_empty=False) -> tuple[T, ...]:
        items = self.array(key, required=required, non_empty=non_empty) or []
        return tuple(parse(_Reader(item, f"{self.at(key)}[{i}]", self.problems)) for i, item in enumerate(items))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number"}.get(
        type(value), type(value).__name__
    )


def _parse(parse: Callable[[_Reader], T], data: Any, what: str) -> T:
    reader = _Reader(data)
    result = parse(reader)
    if reader.problems:
        raise ShapeError(reader.problems, what)
    return result


def _compact(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


def is_semver(version: str) -> bool:
    return bool(_SEMVER.match(version))


# --- catalog ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaintenanceInfo:
    """``version`` (a semantic version, required) and a ``description`` of the update's impact."""

    version: str
    description: str | None = None

    @classmethod
    def _read(cls, r: _Reader) -> MaintenanceInfo:
        version = r.str("version", required=True)
        if version is not None and not is_semver(version):
            r.problem("version", f"must be a semantic version, not {version!r}")
        return cls(version=version or "", description=r.str("description", allow_empty=True))

    @classmethod
    def from_json(cls, data: Any) -> MaintenanceInfo:
        return _parse(cls._read, data, "maintenance_info")

    def to_json(self) -> dict[str, Any]:
        return _compact({"version": self.version, "description": self.description})


def _read_parameters_schema(r: _Reader, key: str) -> dict[str, Any] | None:
    """``{create|update: {parameters: <JSON schema>}}`` → the JSON schema, checked against the spec's rules."""
    holder = r.obj(key)
    if holder is None:
        return None
    inner = _Reader(holder, r.at(key), r.problems)
    schema = inner.obj("parameters")
    if schema is None:
        return None
    where = inner.at("parameters")
    if not isinstance(schema.get("$schema"), str):
        r.problems.append(f"{where}: the $schema key must be present (a JSON Schema version URI)")
    if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
        r.problems.append(f"{where}: must not be larger than 64kB")
    for ref in _refs(schema):
        if not ref.startswith("#"):
            r.problems.append(f"{where}: must not contain external references ($ref {ref!r})")
    return schema


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for value in node.values():
            found.extend(_refs(value))
        return found
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


@dataclass(frozen=True)
class Schemas:
    """The JSON schemas of a plan's input parameters (each ``None`` when the broker declares none)."""

    service_instance_create: dict[str, Any] | None = None
    service_instance_update: dict[str, Any] | None = None
    service_binding_create: dict[str, Any] | None = None

    @classmethod
    def _read(cls, r: _Reader) -> Schemas:
        instance = r.obj("service_instance")
        binding = r.obj("service_binding")
        ir = _Reader(instance or {}, r.at("service_instance"), r.problems)
        br = _Reader(binding or {}, r.at("service_binding"), r.problems)
        return cls(
            service_instance_create=_read_parameters_schema(ir, "create"),
            service_instance_update=_read_parameters_schema(ir, "update"),
            service_binding_create=_read_parameters_schema(br, "create"),
        )

    @classmethod
    def from_json(cls, data: Any) -> Schemas:
        return _parse(cls._read, data, "schemas")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        instance = _compact(
            {
                "create": {"parameters": self.service_instance_create} if self.service_instance_create else None,
                "update": {"parameters": self.service_instance_update} if self.service_instance_update else None,
            }
        )
        if instance:
            out["service_instance"] = instance
        if self.service_binding_create:
            out["service_binding"] = {"create": {"parameters": self.service_binding_create}}
        return out


@dataclass(frozen=True)
class Plan:
    """A Service Plan. ``bindable`` / ``plan_updateable`` are ``None`` when the plan defers to its offering."""

    id: str
    name: str
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    free: bool = True
    bindable: bool | None = None
    plan_updateable: bool | None = None
    binding_rotatable: bool = False
    schemas: Schemas | None = None
    maximum_polling_duration: int | None = None
    maintenance_info: MaintenanceInfo | None = None

    @classmethod
    def _read(cls, r: _Reader) -> Plan:
        free = r.bool("free")
        rotatable = r.bool("binding_rotatable")
        return cls(
            id=r.str("id", required=True) or "",
            name=r.str("name", required=True) or "",
            description=r.str("description", required=True) or "",
            metadata=r.obj("metadata") or {},
            free=True if free is None else free,
            bindable=r.bool("bindable"),
            plan_updateable=r.bool("plan_updateable"),
            binding_rotatable=bool(rotatable),
            schemas=r.child("schemas", Schemas._read),
            maximum_polling_duration=r.int("maximum_polling_duration", minimum=1),
            maintenance_info=r.child("maintenance_info", MaintenanceInfo._read),
        )

    @classmethod
    def from_json(cls, data: Any) -> Plan:
        return _parse(cls._read, data, "plan")

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "id": self.id,
                "name": self.name,
                "description": self.description,
                "metadata": self.metadata or None,
                "free": self.free,
                "bindable": self.bindable,
                "plan_updateable": self.plan_updateable,
                "binding_rotatable": self.binding_rotatable or None,
                "schemas": self.schemas.to_json() if self.schemas else None,
                "maximum_polling_duration": self.maximum_polling_duration,
                "maintenance_info": self.maintenance_info.to_json() if self.maintenance_info else None,
            }
        )


@dataclass(frozen=True)
class ServiceOffering:
    """A Service Offering with its plans (at least one)."""

    id: str
    name: str
    description: str
    bindable: bool
    plans: tuple[Plan, ...]
    tags: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    instances_retrievable: bool = False
    bindings_retrievable: bool = False
    allow_context_updates: bool = False
    plan_updateable: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    dashboard_client: dict[str, Any] | None = None

    @classmethod
    def _read(cls, r: _Reader) -> ServiceOffering:
        offering = cls(
            id=r.str("id", required=True) or "",
            name=r.str("name", required=True) or "",
            description=r.str("description", required=True) or "",
            bindable=bool(r.bool("bindable", required=True)),
            plans=r.children("plans", Plan._read, required=True, non_empty=True),
            tags=r.str_list("tags"),
            requires=r.str_list("requires"),
            instances_retrievable=bool(r.bool("instances_retrievable")),
            bindings_retrievable=bool(r.bool("bindings_retrievable")),
            allow_context_updates=bool(r.bool("allow_context_updates")),
            plan_updateable=bool(r.bool("plan_updateable")),
            metadata=r.obj("metadata") or {},
            dashboard_client=r.obj("dashboard_client"),
        )
        seen: set[str] = set()
        for i, plan in enumerate(offering.plans):
            if plan.name and plan.name in seen:
                r.problems.append(f"{r.at('plans')}[{i}].name: {plan.name!r} is not unique within the offering")
            seen.add(plan.name)
        return offering

    @classmethod
    def from_json(cls, data: Any) -> ServiceOffering:
        return _parse(cls._read, data, "service offering")

    def plan(self, plan_id: str) -> Plan | None:
        return next((p for p in self.plans if p.id == plan_id), None)

    def plan_named(self, name: str) -> Plan | None:
        return next((p for p in self.plans if p.name == name), None)

    def plan_is_bindable(self, plan: Plan) -> bool:
        """The plan's ``bindable`` if it says, else the offering's."""
        return self.bindable if plan.bindable is None else plan.bindable

    def plan_is_updateable(self, plan: Plan) -> bool:
        """May the platform change *away from* this plan? The plan's field wins over the offering's."""
        return self.plan_updateable if plan.plan_updateable is None else plan.plan_updateable

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "id": self.id,
                "name": self.name,
                "description": self.description,
                "tags": list(self.tags) or None,
                "requires": list(self.requires) or None,
                "bindable": self.bindable,
                "instances_retrievable": self.instances_retrievable,
                "bindings_retrievable": self.bindings_retrievable,
                "allow_context_updates": self.allow_context_updates,
                "metadata": self.metadata or None,
                "dashboard_client": self.dashboard_client,
                "plan_updateable": self.plan_updateable,
                "plans": [p.to_json() for p in self.plans],
            }
        )


@dataclass(frozen=True)
class Catalog:
    """``GET /v2/catalog``. Offering names are unique; offering and plan ids are globally unique."""

    services: tuple[ServiceOffering, ...]
    request_id: str = field(default="", compare=False)
    etag: str | None = field(default=None, compare=False)

    @classmethod
    def _read(cls, r: _Reader) -> Catalog:
        services = r.children("services", ServiceOffering._read, required=True)
        names: set[str] = set()
        ids: set[str] = set()
        for i, service in enumerate(services):
            where = f"{r.at('services')}[{i}]"
            if service.name and service.name in names:
                r.problems.append(f"{where}.name: {service.name!r} is not unique in the catalog")
            names.add(service.name)
            for j, some_id in enumerate([service.id] + [p.id for p in service.plans]):
                if some_id and some_id in ids:
                    what = ".id" if j == 0 else f".plans[{j - 1}].id"
                    r.problems.append(f"{where}{what}: {some_id!r} is not unique in the catalog")
                ids.add(some_id)
        return cls(services=services)

    @classmethod
    def from_json(cls, data: Any, *, request_id: str = "") -> Catalog:
        catalog = _parse(cls._read, data, "catalog")
        return Catalog(services=catalog.services, request_id=request_id)

    def service(self, service_id: str) -> ServiceOffering | None:
        return next((s for s in self.services if s.id == service_id), None)

    def service_named(self, name: str) -> ServiceOffering | None:
        return next((s for s in self.services if s.name == name), None)

    def find_plan(self, plan_id: str) -> tuple[ServiceOffering, Plan] | None:
        for service in self.services:
            plan = service.plan(plan_id)
            if plan is not None:
                return service, plan
        return None

    def to_json(self) -> dict[str, Any]:
        return {"services": [s.to_json() for s in self.services]}


# --- instances ----------------------------------------------------------------------------------


class OperationState(StrEnum):
    IN_PROGRESS = "in progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class InstanceMetadata:
    """Service Instance metadata a broker returns: ``labels`` and ``attributes`` (free-form objects)."""

    labels: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def _read(cls, r: _Reader) -> InstanceMetadata:
        return cls(labels=r.obj("labels") or {}, attributes=r.obj("attributes") or {})

    def to_json(self) -> dict[str, Any]:
        return _compact({"labels": self.labels or None, "attributes": self.attributes or None})


def _read_operation(r: _Reader) -> str | None:
    return r.str("operation", nullable=True, max_length=MAX_OPERATION_LENGTH)


@dataclass(frozen=True)
class ProvisionResponse:
    """``PUT /v2/service_instances/:id``: 201 created, 200 an identical instance exists, 202 in progress."""

    status: int
    dashboard_url: str | None = None
    operation: str | None = None
    metadata: InstanceMetadata | None = None
    request_id: str = ""

    @property
    def accepted(self) -> bool:
        """202: provisioning goes on asynchronously; poll ``last_operation`` with ``operation``."""
        return self.status == 202

    @property
    def already_existed(self) -> bool:
        """200: an identical, fully provisioned instance already existed."""
        return self.status == 200

    @classmethod
    def from_json(cls, data: Any, *, status: int = 201, request_id: str = "") -> ProvisionResponse:
        def read(r: _Reader) -> ProvisionResponse:
            return cls(
                status=status,
                dashboard_url=r.str("dashboard_url", nullable=True),
                operation=_read_operation(r),
                metadata=r.child("metadata", InstanceMetadata._read),
                request_id=request_id,
            )

        return _parse(read, data, "provision response")

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "dashboard_url": self.dashboard_url,
                "operation": self.operation,
                "metadata": self.metadata.to_json() if self.metadata else None,
            }
        )


@dataclass(frozen=True)
class UpdateResponse:
    """``PATCH /v2/service_instances/:id``: 200 applied (or no effect), 202 in progress."""

    status: int
    dashboard_url: str | None = None
    operation: str | None = None
    metadata: InstanceMetadata | None = None
    request_id: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == 202

    @classmethod
    def from_json(cls, data: Any, *, status: int = 200, request_id: str = "") -> UpdateResponse:
        def read(r: _Reader) -> UpdateResponse:
            return cls(
                status=status,
                dashboard_url=r.str("dashboard_url", nullable=True),
                operation=_read_operation(r),
                metadata=r.child("metadata", InstanceMetadata._read),
                request_id=request_id,
            )

        return _parse(read, data, "update response")

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "dashboard_url": self.dashboard_url,
                "operation": self.operation,
                "metadata": self.metadata.to_json() if self.metadata else None,
            }
        )


@dataclass(frozen=True)
class DeleteResponse:
    """Deprovision / unbind: 200 deleted, 202 in progress, 410 it was already gone (also a success)."""

    status: int
    operation: str | None = None
    request_id: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == 202

    @property
    def gone(self) -> bool:
        return self.status == 410

    @classmethod
    def from_json(cls, data: Any, *, status: int = 200, request_id: str = "") -> DeleteResponse:
        def read(r: _Reader) -> DeleteResponse:
            return cls(status=status, operation=_read_operation(r), request_id=request_id)

        return _parse(read, data, "delete response")

    def to_json(self) -> dict[str, Any]:
        return _compact({"operation": self.operation})


DeprovisionResponse = DeleteResponse
UnbindResponse = DeleteResponse


@dataclass(frozen=True)
class LastOperation:
    """``GET .../last_operation``: the state of the last asynchronous operation.

    ``instance_usable`` / ``update_repeatable`` are what the broker said after a failed update or
    deprovision (``None`` when it said nothing; the spec's default is true). ``retry_after`` is the
    ``Retry-After`` header in seconds (``retry_after_header`` its raw value).
    """

    state: OperationState
    description: str | None = None
    instance_usable: bool | None = None
    update_repeatable: bool | None = None
    retry_after: float | None = None
    retry_after_header: str | None = None
    request_id: str = ""

    @property
    def in_progress(self) -> bool:
        return self.state is OperationState.IN_PROGRESS

    @property
    def succeeded(self) -> bool:
        return self.state is OperationState.SUCCEEDED

    @property
    def failed(self) -> bool:
        return self.state is OperationState.FAILED

    @property
    def done(self) -> bool:
        return not self.in_progress

    @classmethod
    def from_json(
        cls, data: Any, *, retry_after_header: str | None = None, request_id: str = "", clock=None
    ) -> LastOperation:
        def read(r: _Reader) -> LastOperation:
            raw_state = r.str("state", required=True)
            state = OperationState.IN_PROGRESS
            if raw_state is not None:
                try:
                    state = OperationState(raw_state)
                except ValueError:
                    r.problem("state", f"must be 'in progress', 'succeeded' or 'failed', not {raw_state!r}")
            return cls(
                state=state,
                description=r.str("description", nullable=True, allow_empty=True),
                instance_usable=r.bool("instance_usable"),
                update_repeatable=r.bool("update_repeatable"),
                retry_after=parse_retry_after(retry_after_header, clock=clock),
                retry_after_header=retry_after_header,
                request_id=request_id,
            )

        return _parse(read, data, "last operation")

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "state": self.state.value,
                "description": self.description,
                "instance_usable": self.instance_usable,
                "update_repeatable": self.update_repeatable,
            }
        )


def parse_retry_after(value: str | None, *, clock=None) -> float | None:
    """``Retry-After`` as seconds: a delay (RECOMMENDED by the spec) or an HTTP date. ``None`` if absent/invalid."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = clock() if clock else time.time()
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class InstanceDetails:
    """``GET /v2/service_instances/:id`` (only when the offering says ``instances_retrievable``)."""

    service_id: str | None = None
    plan_id: str | None = None
    dashboard_url: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    maintenance_info: MaintenanceInfo | None = None
    metadata: InstanceMetadata | None = None
    request_id: str = ""

    @classmethod
    def from_json(cls, data: Any, *, request_id: str = "") -> InstanceDetails:
        def read(r: _Reader) -> InstanceDetails:
            return cls(
                service_id=r.str("service_id"),
                plan_id=r.str("plan_id"),
                dashboard_url=r.str("dashboard_url", nullable=True),
                parameters=r.obj("parameters") or {},
                maintenance_info=r.child("maintenance_info", MaintenanceInfo._read),
                metadata=r.child("metadata", InstanceMetadata._read),
                request_id=request_id,
            )

        return _parse(read, data, "service instance")

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "service_id": self.service_id,
                "plan_id": self.plan_id,
                "dashboard_url": self.dashboard_url,
                "parameters": self.parameters or None,
                "maintenance_info": self.maintenance_info.to_json() if self.maintenance_info else None,
                "metadata": self.metadata.to_json() if self.metadata else None,
            }
        )


# --- bindings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A network endpoint the application uses: ``ports`` are "443" or ranges "9000-9010"."""

    host: str
    ports: tuple[str, ...]
    protocol: str = "tcp"

    @classmethod
    def _read(cls, r: _Reader) -> Endpoint:
        ports: list[str] = []
        for i, port in enumerate(r.array("ports", required=True, non_empty=True) or []):
            match = _PORT_OR_RANGE.match(port) if isinstance(port, str) else None
            low, high = (int(match[1]), int(match[2] or match[1])) if match else (0, 0)
            if not match or not (1 <= low <= high <= 65535):
                r.problems.append(f"{r.at('ports')}[{i}]: {port!r} is not a port or a port range (a string)")
            else:
                ports.append(port)
        protocol = r.str("protocol") or "tcp"
        if protocol not in ("tcp", "udp", "all"):
            r.problem("protocol", f"must be 'tcp', 'udp' or 'all', not {protocol!r}")
        return cls(host=r.str("host", required=True) or "", ports=tuple(ports), protocol=protocol)

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "ports": list(self.ports), "protocol": self.protocol}


@dataclass(frozen=True)
class VolumeMount:
    driver: str
    container_dir: str
    mode: str
    device_type: str
    volume_id: str
    mount_config: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def _read(cls, r: _Reader) -> VolumeMount:
        mode = r.str("mode", required=True)
        if mode is not None and mode not in ("r", "rw"):
            r.problem("mode", f"must be 'r' or 'rw', not {mode!r}")
        device = r.obj("device", required=True, nullable=False) or {}
        dr = _Reader(device, r.at("device"), r.problems)
        return cls(
            driver=r.str("driver", required=True) or "",
            container_dir=r.str("container_dir", required=True) or "",
            mode=mode or "",
            device_type=r.str("device_type", required=True) or "",
            volume_id=dr.str("volume_id", required=True) or "",
            mount_config=dr.obj("mount_config") or {},
        )

    def to_json(self) -> dict[str, Any]:
        device = _compact({"volume_id": self.volume_id, "mount_config": self.mount_config or None})
        return {
            "driver": self.driver,
            "container_dir": self.container_dir,
            "mode": self.mode,
            "device_type": self.device_type,
            "device": device,
        }


@dataclass(frozen=True)
class BindingMetadata:
    """When the binding's credentials expire and when the platform should rotate them (ISO 8601)."""

    expires_at: str | None = None
    renew_before: str | None = None

    @classmethod
    def _read(cls, r: _Reader) -> BindingMetadata:
        return cls(expires_at=r.str("expires_at"), renew_before=r.str("renew_before"))

    def to_json(self) -> dict[str, Any]:
        return _compact({"expires_at": self.expires_at, "renew_before": self.renew_before})


def _binding_fields(r: _Reader) -> dict[str, Any]:
    return {
        "credentials": r.obj("credentials") or {},
        "syslog_drain_url": r.str("syslog_drain_url"),
        "route_service_url": r.str("route_service_url"),
        "volume_mounts": r.children("volume_mounts", VolumeMount._read),
        "endpoints": r.children("endpoints", Endpoint._read),
        "metadata": r.child("metadata", BindingMetadata._read),
    }


def _binding_json(b: BindResponse | BindingDetails) -> dict[str, Any]:
    return _compact(
        {
            "credentials": b.credentials or None,
            "syslog_drain_url": b.syslog_drain_url,
            "route_service_url": b.route_service_url,
            "volume_mounts": [v.to_json() for v in b.volume_mounts] or None,
            "endpoints": [e.to_json() for e in b.endpoints] or None,
            "metadata": b.metadata.to_json() if b.metadata else None,
        }
    )


@dataclass(frozen=True)
class BindResponse:
    """``PUT .../service_bindings/:id``: 201 created, 200 identical binding exists, 202 in progress
    (then the credentials come from ``get_binding`` once ``binding_last_operation`` succeeded)."""

    status: int
    operation: str | None = None
    credentials: dict[str, Any] = field(default_factory=dict, repr=False)
    syslog_drain_url: str | None = None
    route_service_url: str | None = None
    volume_mounts: tuple[VolumeMount, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    metadata: BindingMetadata | None = None
    request_id: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == 202

    @property
    def already_existed(self) -> bool:
        return self.status == 200

    @classmethod
    def from_json(cls, data: Any, *, status: int = 201, request_id: str = "") -> BindResponse:
        def read(r: _Reader) -> BindResponse:
            if status == 202:
                # The spec forbids binding information in a 202; whatever is there is ignored.
                return cls(status=status, operation=_read_operation(r), request_id=request_id)
            return cls(status=status, request_id=request_id, **_binding_fields(r))

        return _parse(read, data, "bind response")

    def to_json(self) -> dict[str, Any]:
        if self.status == 202:
            return _compact({"operation": self.operation})
        return _binding_json(self)


@dataclass(frozen=True)
class BindingDetails:
    """``GET .../service_bindings/:id`` (only when the offering says ``bindings_retrievable``)."""

    credentials: dict[str, Any] = field(default_factory=dict, repr=False)
    syslog_drain_url: str | None = None
    route_service_url: str | None = None
    volume_mounts: tuple[VolumeMount, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    metadata: BindingMetadata | None = None
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    request_id: str = ""

    @classmethod
    def from_json(cls, data: Any, *, request_id: str = "") -> BindingDetails:
        def read(r: _Reader) -> BindingDetails:
            return cls(parameters=r.obj("parameters") or {}, request_id=request_id, **_binding_fields(r))

        return _parse(read, data, "service binding")

    def to_json(self) -> dict[str, Any]:
        out = _binding_json(self)
        if self.parameters:
            out["parameters"] = self.parameters
        return out
