"""Every write of the catalog app: one transaction each, audited, enqueuing operations on commit.

Who may write: a type (its versions and plans) is changed by its *owners who can write*: a
developer or admin in the owning team, or an admin of the owning org. Everybody else who can
see the type gets 403; callers fetch the type through catalog.selectors first, so somebody who
cannot see it gets 404 before reaching here. Published versions are immutable.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from catalog import schema as sch
from catalog.models import Plan, RegisteredService, ServiceType, TypeVersion, Visibility, parse_semver
from catalog.parameters import error_pointers, normalize_locked, unknown_parameters, validate_parameters
from catalog.publishing import sample_parameters, version_problems
from catalog.selectors import Ownership
from portal import audit, operations
from portal.access import require_role
from portal.db import save_unique
from portal.models import Organization, Role, Team

ICON_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,29}$")
MAX_TAGS = 20
MAX_TEXT_FIELD_BYTES = 512 * 1024
MAX_JSON_FIELD_BYTES = 256 * 1024
# Slugs that would shadow catalog pages or API routes (/catalog/new/, /api/v1/types/import/…).
RESERVED_SLUGS = {"import", "new", "services", "latest"}


# --- helpers --------------------------------------------------------------------------------


def _require_owner(actor, obj, what: str = "type") -> Ownership:
    """The actor may change ``obj`` (a type or registered service), else 403 (or 404 for outsiders)."""
    ownership = Ownership.of(actor)
    if not ownership.can_edit(obj) and not _visible(actor, obj):
        raise Http404("Not found.")  # what a user cannot see does not exist for them
    if not ownership.can_edit(obj):
        raise PermissionDenied(
            f"Only developers of the {obj.owner_team.name} team and admins of {obj.org.name} can change this {what}."
        )
    return ownership


def _visible(actor, obj) -> bool:
    from catalog.selectors import registered_services_for_user, visible_q

    if isinstance(obj, ServiceType):
        return ServiceType.objects.filter(visible_q(actor), pk=obj.pk).exists()
    return registered_services_for_user(actor).filter(pk=obj.pk).exists()


def _clean_tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [t for t in re.split(r"[,\s]+", tags) if t]
    if not isinstance(tags, list | tuple):
        raise ValidationError({"tags": "Tags must be a list of words."})
    clean: list[str] = []
    for tag in tags:
        tag = str(tag).strip().lower()
        if not TAG_RE.match(tag):
            raise ValidationError({"tags": f"{tag!r} is not a tag: use up to 30 lowercase letters, digits, . _ + -."})
        if tag not in clean:
            clean.append(tag)
    if len(clean) > MAX_TAGS:
        raise ValidationError({"tags": f"Use at most {MAX_TAGS} tags."})
    return clean


def _clean_icon(icon: str) -> str:
    icon = (icon or "box").strip().removeprefix("bi-")
    if not ICON_RE.match(icon) or len(icon) > 40:
        raise ValidationError({"icon": "Use a bootstrap-icons name such as chat-dots, database or envelope."})
    return icon


def _check_team(org: Organization, team: Team, actor, ownership: Ownership | None = None) -> None:
    if team.org_id != org.pk:
        raise ValidationError({"owner_team": f"The owning team must be a team of {org.name}."})
    ownership = ownership or Ownership.of(actor)
    if team.pk not in ownership.developer_team_ids and org.pk not in ownership.admin_org_ids:
        raise PermissionDenied(f"You can only make the {team.name} team an owner if you are a developer in it.")


def _check_sharing(actor, org: Organization, visibility: str, shared_with: list[Organization] | None) -> list:
    if visibility not in Visibility.values:
        raise ValidationError({"visibility": f"Choose one of {', '.join(Visibility.values)}."})
    shared = [o for o in (shared_with or []) if o.pk != org.pk]
    if visibility == Visibility.ORGS and not shared:
        raise ValidationError({"shared_with": "Name at least one other organization to share with."})
    if visibility != Visibility.ORGS and shared:
        raise ValidationError({"shared_with": 'Sharing with named organizations needs visibility "orgs".'})
    if visibility == Visibility.PUBLIC:
        require_role(actor, org, Role.ADMIN)
    return shared


def _json_size(field: str, value: Any, limit: int = MAX_JSON_FIELD_BYTES) -> None:
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise ValidationError({field: f"Must be JSON: {exc}"}) from exc
    if size > limit:
        raise ValidationError({field: f"Larger than {limit // 1024} KiB."})


def _touch(type_: ServiceType) -> None:
    ServiceType.objects.filter(pk=type_.pk).update(updated_at=timezone.now())


# --- types ----------------------------------------------------------------------------------


@transaction.atomic
def create_type(
    *,
    actor,
    org: Organization,
    owner_team: Team,
    slug: str,
    name: str,
    description: str = "",
    icon: str = "box",
    tags: Any = None,
    visibility: str = Visibility.ORG,
    shared_with: list[Organization] | None = None,
    source: str = ServiceType.Source.TEMPLATE,
    via: str = "ui",
) -> ServiceType:
    require_role(actor, org, Role.DEVELOPER)
    _check_team(org, owner_team, actor)
    shared = _check_sharing(actor, org, visibility, shared_with)
    if source not in ServiceType.Source.values:
        raise ValidationError({"source": f"Choose one of {', '.join(ServiceType.Source.values)}."})
    type_ = ServiceType(
        org=org,
        owner_team=owner_team,
        slug=(slug or "").strip(),
        name=(name or "").strip(),
        description=description or "",
        icon=_clean_icon(icon),
        tags=_clean_tags(tags),
        visibility=visibility,
        source=source,
        created_by=actor,
    )
    type_.full_clean(exclude=["slug"] if not type_.slug else None, validate_unique=False)
    if not type_.slug:
        raise ValidationError({"slug": "This field cannot be blank."})
    if type_.slug in RESERVED_SLUGS:
        raise ValidationError({"slug": f"{type_.slug!r} is reserved; choose another slug."})
    save_unique(
        type_, field="slug", message=f"A service type called {type_.slug!r} already exists; choose another slug."
    )
    if shared:
        type_.shared_with.set(shared)
    audit.record(
        actor=actor,
        action="type.create",
        org=org,
        target=type_,
        changes={"slug": type_.slug, "owner_team": owner_team.slug, "visibility": visibility},
        via=via,
    )
    return type_


@transaction.atomic
def update_type(*, actor, type_: ServiceType, via: str = "ui", **fields: Any) -> ServiceType:
    """Change name, description, icon, tags or the owning team."""
    ownership = _require_owner(actor, type_)
    type_ = ServiceType.objects.select_for_update().select_related("org", "owner_team").get(pk=type_.pk)
    allowed = {"name", "description", "icon", "tags", "owner_team"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "This field cannot be changed here."})
    changes: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key == "icon":
            value = _clean_icon(value)
        elif key == "tags":
            value = _clean_tags(value)
        elif key == "owner_team":
            _check_team(type_.org, value, actor, ownership)
            if value.pk != type_.owner_team_id:
                changes["owner_team"] = [type_.owner_team.slug, value.slug]
                type_.owner_team = value
            continue
        elif key == "name":
            value = str(value).strip()
        if getattr(type_, key) != value:
            changes[key] = [getattr(type_, key), value] if key != "description" else "changed"
            setattr(type_, key, value)
    if changes:
        type_.full_clean(validate_unique=False)
        type_.updated_at = timezone.now()
        type_.save()
        audit.record(actor=actor, action="type.update", org=type_.org, target=type_, changes=changes, via=via)
    return type_


@transaction.atomic
def share_type(
    *, actor, type_: ServiceType, visibility: str, shared_with: list[Organization] | None = None, via: str = "ui"
) -> ServiceType:
    """Change who sees a type (audited with the old and new audience)."""
    _require_owner(actor, type_)
    type_ = ServiceType.objects.select_for_update().select_related("org", "owner_team").get(pk=type_.pk)
    shared = _check_sharing(actor, type_.org, visibility, shared_with)
    before = sorted(type_.shared_with.values_list("slug", flat=True))
    after = sorted(o.slug for o in shared)
    changes: dict[str, Any] = {}
    if type_.visibility != visibility:
        changes["visibility"] = [type_.visibility, visibility]
        type_.visibility = visibility
        type_.updated_at = timezone.now()
        type_.save(update_fields=["visibility", "updated_at"])
    if before != after:
        changes["shared_with"] = [before, after]
        type_.shared_with.set(shared)
    if changes:
        audit.record(actor=actor, action="type.share", org=type_.org, target=type_, changes=changes, via=via)
    return type_


# --- versions -------------------------------------------------------------------------------

VERSION_FIELDS = ("manifests_template", "parameter_schema", "binding_template", "outputs", "changelog")


def _check_version_fields(fields: dict[str, Any]) -> dict[str, Any]:
    clean = {}
    for key, value in fields.items():
        if key not in VERSION_FIELDS:
            raise ValidationError({key: "This field cannot be set on a version."})
        if value is None:
            continue
        if key in ("manifests_template", "changelog"):
            if not isinstance(value, str):
                raise ValidationError({key: "Must be text."})
            if len(value.encode()) > MAX_TEXT_FIELD_BYTES:
                raise ValidationError({key: f"Larger than {MAX_TEXT_FIELD_BYTES // 1024} KiB."})
        elif key == "parameter_schema":
            if not isinstance(value, dict):
                raise ValidationError({key: "The parameter schema must be a JSON object."})
            _json_size(key, value)
        elif key == "binding_template":
            if not isinstance(value, dict):
                raise ValidationError({key: 'The binding template must be an object such as {"host": "…"}.'})
            _json_size(key, value)
        elif key == "outputs":
            if not isinstance(value, list):
                raise ValidationError({key: "Outputs must be a list."})
            _json_size(key, value)
        clean[key] = value
    return clean


@transaction.atomic
def create_version(
    *, actor, type_: ServiceType, version: str, copy_from: TypeVersion | None = None, via: str = "ui", **fields: Any
) -> TypeVersion:
    """A new draft version (optionally starting from another version's content)."""
    _require_owner(actor, type_)
    version = (version or "").strip().removeprefix("v")
    try:
        parse_semver(version)
    except ValidationError as exc:
        raise ValidationError({"version": exc.messages}) from exc
    base: dict[str, Any] = {}
    if copy_from is not None:
        if copy_from.type_id != type_.pk:
            raise ValidationError({"copy_from": "Copy from a version of the same type."})
        base = {key: getattr(copy_from, key) for key in VERSION_FIELDS if key != "changelog"}
    values = {**base, **_check_version_fields(fields)}
    row = TypeVersion(
        type=type_,
        version=version,
        created_by=actor,
        manifests_template=values.get("manifests_template", ""),
        parameter_schema=values.get("parameter_schema") or {"type": "object", "properties": {}},
        binding_template=values.get("binding_template") or {},
        outputs=values.get("outputs") or [],
        changelog=values.get("changelog", ""),
    )
    save_unique(row, field="version", message=f"{type_.slug} already has a version {version}.")
    _touch(type_)
    audit.record(
        actor=actor,
        action="version.create",
        org=type_.org,
        target=row,
        changes={"version": version, **({"copied_from": copy_from.version} if copy_from else {})},
        via=via,
    )
    return row


def _immutable(version: TypeVersion) -> ValidationError:
    bumped = version.semver.bump_patch()
    return ValidationError(
        {
            "state": f"Version {version.version} is {version.state} and cannot change; "
            f"create a new version (e.g. {bumped}) instead."
        }
    )


@transaction.atomic
def update_version(*, actor, version: TypeVersion, via: str = "ui", **fields: Any) -> TypeVersion:
    type_ = version.type
    _require_owner(actor, type_)
    version = TypeVersion.objects.select_for_update().get(pk=version.pk)
    version.type = type_
    if version.state != TypeVersion.State.DRAFT:
        raise _immutable(version)
    clean = _check_version_fields(fields)
    changed = [key for key, value in clean.items() if getattr(version, key) != value]
    for key in changed:
        setattr(version, key, clean[key])
    if changed:
        version.save()
        _touch(type_)
        audit.record(
            actor=actor, action="version.update", org=type_.org, target=version, changes={"fields": changed}, via=via
        )
    return version


@transaction.atomic
def delete_version(*, actor, version: TypeVersion, via: str = "ui") -> None:
    type_ = version.type
    _require_owner(actor, type_)
    version = TypeVersion.objects.select_for_update().get(pk=version.pk)
    version.type = type_
    if version.state != TypeVersion.State.DRAFT:
        raise ValidationError({"state": f"Version {version.version} is {version.state}; only drafts can be deleted."})
    audit.record(
        actor=actor,
        action="version.delete",
        org=type_.org,
        target=version,
        changes={"version": version.version},
        via=via,
    )
    version.delete()
    _touch(type_)


def check_version(version: TypeVersion) -> dict[str, list[str]]:
    """What publishing would say, without publishing (for the editor's "Check" button)."""
    return version_problems(version, list(Plan.objects.filter(type=version.type_id)))


@transaction.atomic
def publish_version(*, actor, version: TypeVersion, via: str = "ui") -> TypeVersion:
    """Validate everything (see catalog.publishing) and make the version immutable."""
    type_ = version.type
    _require_owner(actor, type_)
    version = TypeVersion.objects.select_for_update().get(pk=version.pk)
    version.type = type_
    if version.state != TypeVersion.State.DRAFT:
        raise ValidationError({"state": f"Version {version.version} is already {version.state}."})
    problems = version_problems(version, list(Plan.objects.filter(type=type_)))
    if problems:
        raise ValidationError(problems)
    version.state = TypeVersion.State.PUBLISHED
    version.published_at = timezone.now()
    version.save(update_fields=["state", "published_at"])
    _touch(type_)
    audit.record(
        actor=actor,
        action="version.publish",
        org=type_.org,
        target=version,
        changes={"version": version.version},
        via=via,
    )
    return version


@transaction.atomic
def deprecate_version(*, actor, version: TypeVersion, via: str = "ui") -> TypeVersion:
    """A deprecated version stays for existing instances but is no longer offered for new ones."""
    type_ = version.type
    _require_owner(actor, type_)
    version = TypeVersion.objects.select_for_update().get(pk=version.pk)
    version.type = type_
    if version.state != TypeVersion.State.PUBLISHED:
        raise ValidationError(
            {"state": f"Only published versions can be deprecated; {version.version} is {version.state}."}
        )
    version.state = TypeVersion.State.DEPRECATED
    version.save(update_fields=["state"])
    _touch(type_)
    audit.record(
        actor=actor,
        action="version.deprecate",
        org=type_.org,
        target=version,
        changes={"version": version.version},
        via=via,
    )
    return version


# --- plans ----------------------------------------------------------------------------------


def _reference_version(type_: ServiceType) -> TypeVersion | None:
    version = (
        TypeVersion.objects.filter(type=type_, state=TypeVersion.State.PUBLISHED).first()
        or TypeVersion.objects.filter(type=type_).first()
    )
    if version is not None:
        version.type = type_
    return version


def _check_plan(type_: ServiceType, plan: Plan) -> None:
    if not isinstance(plan.values, dict):
        raise ValidationError({"values": "Plan values must be an object of parameter: value."})
    if not isinstance(plan.locked, list) or not all(isinstance(x, str) for x in plan.locked):
        raise ValidationError({"locked": "Locked parameters must be a list of names."})
    if not isinstance(plan.maintenance_info, dict):
        raise ValidationError({"maintenance_info": "maintenance_info must be an object."})
    _json_size("values", plan.values, 64 * 1024)
    version = _reference_version(type_)
    if version is None or not isinstance(version.parameter_schema, dict) or sch.check_schema(version.parameter_schema):
        return
    root = version.parameter_schema
    known = {sch.dotted(leaf.path) for leaf in sch.leaves(root)}
    known |= {sch.dotted(node.path) for node in sch.fields(root)}
    unknown_locked = [sch.dotted(p) for p in normalize_locked(plan.locked) if sch.dotted(p) not in known]
    if unknown_locked:
        raise ValidationError(
            {"locked": f"Version {version.version} has no parameter {', '.join(unknown_locked)} to lock."}
        )
    unknown = unknown_parameters(root, plan.values)
    if unknown:
        raise ValidationError({"values": f"Version {version.version} has no parameter {sch.dotted(unknown[0])}."})
    try:
        validate_parameters(version, plan, sample_parameters(version, plan), may_change_locked=True)
    except ValidationError as exc:
        messages = [f"{pointer}: {m}" for pointer, ms in error_pointers(exc).items() for m in ms]
        raise ValidationError({"values": messages}) from exc


@transaction.atomic
def create_plan(
    *,
    actor,
    type_: ServiceType,
    slug: str,
    name: str,
    description: str = "",
    values: dict | None = None,
    locked: list | None = None,
    maintenance_info: dict | None = None,
    order: int = 0,
    via: str = "ui",
) -> Plan:
    _require_owner(actor, type_)
    plan = Plan(
        type=type_,
        slug=(slug or "").strip(),
        name=(name or "").strip(),
        description=description or "",
        values=values if values is not None else {},
        locked=locked if locked is not None else [],
        maintenance_info=maintenance_info if maintenance_info is not None else {},
        order=order or 0,
    )
    plan.full_clean(exclude=["type"], validate_unique=False, validate_constraints=False)
    _check_plan(type_, plan)
    save_unique(plan, field="slug", message=f"{type_.slug} already has a plan {plan.slug!r}.")
    _touch(type_)
    audit.record(
        actor=actor,
        action="plan.create",
        org=type_.org,
        target=plan,
        changes={"plan": plan.slug, "values": plan.values, "locked": plan.locked},
        via=via,
    )
    return plan


@transaction.atomic
def update_plan(*, actor, plan: Plan, via: str = "ui", **fields: Any) -> Plan:
    type_ = plan.type
    _require_owner(actor, type_)
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    plan.type = type_
    allowed = {"name", "description", "values", "locked", "maintenance_info", "order"}
    changes: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in allowed:
            raise ValidationError({key: "This field cannot be changed."})
        if value is not None and getattr(plan, key) != value:
            changes[key] = [getattr(plan, key), value]
            setattr(plan, key, value)
    if changes:
        plan.full_clean(exclude=["type"], validate_unique=False, validate_constraints=False)
        _check_plan(type_, plan)
        plan.save()
        _touch(type_)
        audit.record(actor=actor, action="plan.update", org=type_.org, target=plan, changes=changes, via=via)
    return plan


@transaction.atomic
def delete_plan(*, actor, plan: Plan, via: str = "ui") -> None:
    type_ = plan.type
    _require_owner(actor, type_)
    audit.record(actor=actor, action="plan.delete", org=type_.org, target=plan, changes={"plan": plan.slug}, via=via)
    plan.delete()
    _touch(type_)


# --- import ---------------------------------------------------------------------------------


@transaction.atomic
def import_type(
    *,
    actor,
    org: Organization,
    owner_team: Team,
    slug: str,
    name: str,
    objects: list[dict],
    selections: list[dict] | None,
    description: str = "",
    icon: str = "box",
    tags: Any = None,
    visibility: str = Visibility.ORG,
    shared_with: list[Organization] | None = None,
    base_name: str | None = None,
    source_note: str = "",
    via: str = "ui",
) -> TypeVersion:
    """Make a type with a draft 1.0.0 from Kubernetes objects (see catalog.importer); all or nothing."""
    from catalog import importer

    draft = importer.build_draft(objects, selections, base_name=base_name)
    type_ = create_type(
        actor=actor,
        org=org,
        owner_team=owner_team,
        slug=slug,
        name=name,
        description=description,
        icon=icon,
        tags=tags,
        visibility=visibility,
        shared_with=shared_with,
        via=via,
    )
    version = create_version(
        actor=actor,
        type_=type_,
        version="1.0.0",
        manifests_template=draft.template,
        parameter_schema=draft.schema,
        outputs=draft.outputs,
        binding_template=draft.binding_template,
        changelog=f"Imported {source_note or 'from Kubernetes objects'}.",
        via=via,
    )
    audit.record(
        actor=actor,
        action="type.import",
        org=org,
        target=type_,
        changes={"objects": [f"{o['kind']}/{o['metadata']['name']}" for o in draft.objects], "source": source_note},
        via=via,
    )
    return version


def read_cluster_for_import(
    *, actor, cluster, namespace: str, service: str = "", deployment: str = "", selector: str = "", via: str = "ui"
):
    """Start reading objects from a cluster for the import wizard; the operation's result is the preview."""
    require_role(actor, cluster.org, Role.DEVELOPER)
    if sum(bool(x) for x in (service, deployment, selector)) != 1:
        raise ValidationError({"service": "Pick one: a Service, a Deployment or a label selector."})
    if not sch.DNS_LABEL_RE.match(namespace or ""):
        raise ValidationError({"namespace": "Give the namespace (a Kubernetes name)."})
    params = {"namespace": namespace, "service": service, "deployment": deployment, "selector": selector}
    with transaction.atomic():
        op = operations.start_operation(
            org=cluster.org, kind="type.read_cluster", target=cluster, params=params, requested_by=actor, max_attempts=1
        )
        audit.record(actor=actor, action="type.read_cluster", org=cluster.org, target=cluster, changes=params, via=via)
    return op


# --- registered services --------------------------------------------------------------------


def _check_service_target(org: Organization, kind: str, fields: dict[str, Any]) -> None:
    if kind == RegisteredService.Kind.EXTERNAL:
        host = (fields.get("host") or "").strip()
        port = fields.get("port")
        if not host or not (sch.HOSTNAME_RE.match(host) or _is_ip(host)):
            raise ValidationError({"host": "Give the host name or IP address of the service."})
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValidationError({"port": "Give a port from 1 to 65535."})
    elif kind == RegisteredService.Kind.KUBERNETES:
        cluster = fields.get("cluster")
        if cluster is None:
            raise ValidationError({"cluster": "Choose the cluster the Service runs in."})
        if cluster.org_id != org.pk:
            raise ValidationError({"cluster": f"Choose a cluster of {org.name}."})
        for key in ("namespace", "service_name"):
            value = (fields.get(key) or "").strip()
            if not sch.DNS_LABEL_RE.match(value):
                raise ValidationError({key: "Use a Kubernetes name (lowercase letters, digits, -)."})
    else:
        raise ValidationError({"kind": "Choose kubernetes or external."})


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def register_service(
    *,
    actor,
    org: Organization,
    owner_team: Team,
    slug: str,
    name: str,
    kind: str,
    description: str = "",
    cluster=None,
    namespace: str = "",
    service_name: str = "",
    host: str = "",
    port: int | None = None,
    visibility: str = Visibility.ORG,
    shared_with: list[Organization] | None = None,
    via: str = "ui",
) -> RegisteredService:
    """Register an existing service; a Kubernetes one gets its address looked up right away."""
    require_role(actor, org, Role.DEVELOPER)
    _check_team(org, owner_team, actor)
    shared = _check_sharing(actor, org, visibility, shared_with)
    fields = {"cluster": cluster, "namespace": namespace, "service_name": service_name, "host": host, "port": port}
    _check_service_target(org, kind, fields)
    service = RegisteredService(
        org=org,
        owner_team=owner_team,
        slug=(slug or "").strip(),
        name=(name or "").strip(),
        description=description or "",
        kind=kind,
        visibility=visibility,
        created_by=actor,
    )
    if kind == RegisteredService.Kind.EXTERNAL:
        service.host, service.port = host.strip(), port
        service.current_host, service.current_ports = service.host, [{"port": port, "protocol": "TCP"}]
        service.address_updated_at = timezone.now()
    else:
        service.cluster, service.namespace, service.service_name = cluster, namespace.strip(), service_name.strip()
    service.full_clean(validate_unique=False, validate_constraints=False)
    with transaction.atomic():
        save_unique(service, field="slug", message=f"{org.name} already has a registered service {service.slug!r}.")
        if shared:
            service.shared_with.set(shared)
        audit.record(
            actor=actor,
            action="service.register",
            org=org,
            target=service,
            changes={"kind": kind, "target": _target_repr(service), "visibility": visibility},
            via=via,
        )
        if kind == RegisteredService.Kind.KUBERNETES:
            operations.start_operation(
                org=org, kind="service.resolve", target=service, requested_by=actor, max_attempts=3
            )
    return service


def _target_repr(service: RegisteredService) -> str:
    if service.kind == RegisteredService.Kind.EXTERNAL:
        return f"{service.host}:{service.port}"
    return f"{service.cluster.name}/{service.namespace}/{service.service_name}"


@transaction.atomic
def update_registered_service(
    *, actor, service: RegisteredService, via: str = "ui", **fields: Any
) -> RegisteredService:
    _require_owner(actor, service, "service")
    service = (
        RegisteredService.objects.select_for_update(of=("self",))
        .select_related("org", "owner_team", "cluster")
        .get(pk=service.pk)
    )
    allowed = {"name", "description", "host", "port", "cluster", "namespace", "service_name", "owner_team"}
    changes: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in allowed:
            raise ValidationError({key: "This field cannot be changed."})
        if value is None or getattr(service, key) == value:
            continue
        if key == "owner_team":
            _check_team(service.org, value, actor)
            changes[key] = [service.owner_team.slug, value.slug]
        elif key == "cluster":
            changes[key] = [service.cluster.name if service.cluster else None, value.name]
        else:
            changes[key] = [getattr(service, key), value]
        setattr(service, key, value)
    if not changes:
        return service
    target = {k: getattr(service, k) for k in ("cluster", "namespace", "service_name", "host", "port")}
    _check_service_target(service.org, service.kind, target)
    if service.kind == RegisteredService.Kind.EXTERNAL:
        service.current_host, service.current_ports = service.host, [{"port": service.port, "protocol": "TCP"}]
        service.address_updated_at = timezone.now()
    service.full_clean(validate_unique=False, validate_constraints=False)
    service.save()
    audit.record(actor=actor, action="service.update", org=service.org, target=service, changes=changes, via=via)
    if service.kind == RegisteredService.Kind.KUBERNETES and {"cluster", "namespace", "service_name"} & set(changes):
        operations.start_operation(
            org=service.org, kind="service.resolve", target=service, requested_by=actor, max_attempts=3
        )
    return service


@transaction.atomic
def share_registered_service(
    *, actor, service: RegisteredService, visibility: str, shared_with: list[Organization] | None = None, via="ui"
) -> RegisteredService:
    _require_owner(actor, service, "service")
    shared = _check_sharing(actor, service.org, visibility, shared_with)
    before = sorted(service.shared_with.values_list("slug", flat=True))
    after = sorted(o.slug for o in shared)
    changes: dict[str, Any] = {}
    if service.visibility != visibility:
        changes["visibility"] = [service.visibility, visibility]
        RegisteredService.objects.filter(pk=service.pk).update(visibility=visibility)
        service.visibility = visibility
    if before != after:
        changes["shared_with"] = [before, after]
        service.shared_with.set(shared)
    if changes:
        audit.record(actor=actor, action="service.share", org=service.org, target=service, changes=changes, via=via)
    return service


@transaction.atomic
def unregister_service(*, actor, service: RegisteredService, via: str = "ui") -> None:
    _require_owner(actor, service, "service")
    audit.record(
        actor=actor,
        action="service.unregister",
        org=service.org,
        target=service,
        changes={"slug": service.slug},
        via=via,
    )
    service.delete()


def refresh_address(*, actor, service: RegisteredService, via: str = "ui"):
    """Look the address of a Kubernetes service up now (202 with the operation)."""
    _require_owner(actor, service, "service")
    if service.kind != RegisteredService.Kind.KUBERNETES:
        raise ValidationError({"kind": "Only Kubernetes services have an address to look up."})
    with transaction.atomic():
        op = operations.start_operation(
            org=service.org, kind="service.resolve", target=service, requested_by=actor, max_attempts=3
        )
        audit.record(actor=actor, action="service.resolve", org=service.org, target=service, via=via)
    return op


def record_address(service: RegisteredService, *, host: str, ports: list[dict], error: str = "") -> bool:
    """Store a tracked address (system write: watch, periodic sync, resolve operation).

    Returns True when it changed. An address change is audited (``service.address``).
    """
    with transaction.atomic():
        row = RegisteredService.objects.select_for_update().select_related("org").get(pk=service.pk)
        changed = (row.current_host, row.current_ports, row.address_error) != (host, ports, error)
        if not changed:
            return False
        old = row.address
        row.current_host, row.current_ports, row.address_error = host, ports, error
        row.address_updated_at = timezone.now()
        row.save(update_fields=["current_host", "current_ports", "address_error", "address_updated_at"])
        if old != row.address:
            audit.record(
                actor=None,
                actor_repr="address tracking",
                action="service.address",
                org=row.org,
                target=row,
                changes={"address": [old, row.address], **({"error": error} if error else {})},
                via="system",
            )
    service.current_host, service.current_ports, service.address_error = host, ports, error
    return True


@transaction.atomic
def set_osb_enabled(*, actor, type_: ServiceType, enabled: bool, via: str = "ui") -> ServiceType:
    """Offer (or stop offering) a type to other platforms over Servicebay's OSB broker API (osbapi/).

    Only a template type with a published version can be offered; instances that platforms already
    made are kept either way (they can still be updated and deprovisioned over OSB)."""
    _require_owner(actor, type_)
    type_ = ServiceType.objects.select_for_update().select_related("org").get(pk=type_.pk)
    enabled = bool(enabled)
    if enabled and type_.source != ServiceType.Source.TEMPLATE:
        raise ValidationError(
            {"osb_enabled": "Only template types can be offered over OSB (this one comes from a broker)."}
        )
    if enabled and not type_.versions.filter(state=TypeVersion.State.PUBLISHED).exists():
        raise ValidationError({"osb_enabled": "Publish a version first: platforms provision the newest published one."})
    if type_.osb_enabled != enabled:
        type_.osb_enabled = enabled
        type_.updated_at = timezone.now()
        type_.save(update_fields=["osb_enabled", "updated_at"])
        audit.record(
            actor=actor, action="type.osb", org=type_.org, target=type_, changes={"osb_enabled": enabled}, via=via
        )
    return type_
