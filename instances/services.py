"""Every write of the instances app: one transaction each, audited, enqueuing operations on commit."""

from __future__ import annotations

import json

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

import kube
from instances.models import Binding, Cluster, Instance, InstanceShare
from portal import audit, operations
from portal.access import has_role, require_role
from portal.db import save_unique
from portal.models import Membership, Operation, Organization, Role, Team


def _validate_access(access: str, kubeconfig: str, context: str) -> None:
    if access == Cluster.Access.IN_CLUSTER:
        return
    if not kubeconfig.strip():
        raise ValidationError({"kubeconfig": "Paste a kubeconfig, or choose in-cluster access."})
    try:
        kube.connect(kubeconfig, context=context or None).close()
    except kube.KubeError as exc:
        raise ValidationError({"kubeconfig": str(exc)}) from exc


def register_cluster(
    *,
    actor,
    org: Organization,
    name: str,
    kubeconfig: str = "",
    access: str = Cluster.Access.KUBECONFIG,
    context: str = "",
    default_namespace: str = "default",
    description: str = "",
    via: str = "ui",
) -> tuple[Cluster, Operation]:
    """Register a cluster (org admins) and start a health check of it."""
    require_role(actor, org, Role.ADMIN)
    _validate_access(access, kubeconfig, context)
    cluster = Cluster(
        org=org,
        name=name,
        kubeconfig=kubeconfig if access == Cluster.Access.KUBECONFIG else "",
        access=access,
        context=context,
        default_namespace=default_namespace or "default",
        description=description,
        created_by=actor,
    )
    cluster.full_clean(validate_constraints=False)
    with transaction.atomic():
        save_unique(cluster, field="name", message=f"{org.name} already has a cluster called {name!r}.")
        audit.record(
            actor=actor,
            action="cluster.register",
            org=org,
            target=cluster,
            changes={"name": name, "access": access, "context": context},
            via=via,
        )
        op = operations.start_operation(
            org=org, kind="cluster.check", target=cluster, requested_by=actor, max_attempts=1
        )
    return cluster, op


def check_cluster(*, actor, cluster: Cluster, via: str = "ui") -> Operation:
    require_role(actor, cluster.org, Role.DEVELOPER)
    with transaction.atomic():
        op = operations.start_operation(
            org=cluster.org, kind="cluster.check", target=cluster, requested_by=actor, max_attempts=1
        )
        audit.record(actor=actor, action="cluster.check", org=cluster.org, target=cluster, via=via)
    return op


@transaction.atomic
def remove_cluster(*, actor, cluster: Cluster, via: str = "ui") -> None:
    require_role(actor, cluster.org, Role.ADMIN)
    audit.record(actor=actor, action="cluster.remove", org=cluster.org, target=cluster, via=via)
    cluster.delete()


def record_health(cluster: Cluster) -> kube.Health:
    """Ask the cluster how it is and store the answer (one conditional UPDATE, no race)."""
    try:
        client = cluster.connect()
    except kube.KubeError as exc:
        health = kube.Health(False, None, str(exc))
    else:
        with client:
            health = client.health()
    Cluster.objects.filter(pk=cluster.pk).update(
        reachable=health.reachable,
        server_version=health.version or "",
        last_error=health.error or "",
        checked_at=timezone.now(),
    )
    return health


# --- instances ----------------------------------------------------------------------------

SECRET_MASK = "********"  # noqa: S105 (what secrets are shown as)


def _secret_paths(schema: dict, prefix: tuple = ()) -> list[tuple]:
    """Paths of ``writeOnly`` properties (secrets) in a parameter schema."""
    paths = []
    for key, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        if sub.get("writeOnly"):
            paths.append((*prefix, key))
        elif sub.get("type") == "object" or "properties" in sub:
            paths.extend(_secret_paths(sub, (*prefix, key)))
    return paths


def _pop_path(values: dict, path: tuple):
    current = values
    for key in path[:-1]:
        current = current.get(key)
        if not isinstance(current, dict):
            return None
    return current.pop(path[-1], None)


def _put_path(values: dict, path: tuple, value) -> None:
    current = values
    for key in path[:-1]:
        current = current.setdefault(key, {})
    current[path[-1]] = value


def split_secrets(schema: dict, values: dict) -> tuple[dict, dict]:
    """(plain values, secret values) — secrets are stored encrypted and never shown again."""
    plain = json.loads(json.dumps(values))
    secrets: dict = {}
    for path in _secret_paths(schema):
        value = _pop_path(plain, path)
        if value is not None:
            _put_path(secrets, path, value)
    return plain, secrets


def _deep_merge(base: dict, extra: dict) -> dict:
    merged = json.loads(json.dumps(base))
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def instance_parameters(instance: Instance) -> dict:
    """All parameter values, secrets included (for rendering only — never for display)."""
    secrets = json.loads(instance.secret_parameters) if instance.secret_parameters else {}
    return _deep_merge(instance.parameters or {}, secrets)


def masked_parameters(instance: Instance) -> dict:
    masked = json.loads(json.dumps(instance.parameters or {}))
    secrets = json.loads(instance.secret_parameters) if instance.secret_parameters else {}
    for path in _secret_paths(instance.version.parameter_schema or {}):
        current = secrets
        for key in path:
            current = current.get(key) if isinstance(current, dict) else None
        if current is not None:
            _put_path(masked, path, SECRET_MASK)
    return masked


def _store_parameters(instance: Instance, values: dict) -> None:
    plain, secrets = split_secrets(instance.version.parameter_schema or {}, values)
    instance.parameters = plain
    instance.secret_parameters = json.dumps(secrets) if secrets else ""


def _pick_cluster(org: Organization, cluster: Cluster | None) -> Cluster:
    if cluster is not None:
        if cluster.org_id != org.pk:
            raise ValidationError({"cluster": "Choose a cluster of your organization."})
        return cluster
    clusters = list(Cluster.objects.filter(org=org)[:2])
    if len(clusters) == 1:
        return clusters[0]
    if not clusters:
        raise ValidationError({"cluster": f"{org.name} has no cluster yet: an admin registers one first."})
    raise ValidationError({"cluster": "Choose a cluster: this organization has several."})


def _running_operation(instance: Instance) -> Operation | None:
    return (
        Operation.objects.filter(
            target_type=ContentType.objects.get_for_model(Instance),
            target_id=str(instance.pk),
            state__in=[Operation.State.PENDING, Operation.State.IN_PROGRESS],
        )
        .order_by("created_at")
        .first()
    )


def _ensure_idle(instance: Instance) -> None:
    running = _running_operation(instance)
    if running is not None:
        raise ValidationError(
            {
                "instance": f"Another operation ({running.kind}, {running.get_state_display().lower()}) is running "
                f"on {instance.name}; wait for it to finish (sbay ops watch {running.pk})."
            }
        )


def is_type_owner(user, service_type) -> bool:
    membership = Membership.objects.filter(org_id=service_type.org_id, user=user).first()
    if membership is None:
        return False
    return membership.has_role(Role.ADMIN) or membership.teams.filter(pk=service_type.owner_team_id).exists()


def provision_instance(
    *,
    actor,
    org: Organization,
    service_type,
    name: str,
    plan=None,
    version=None,
    parameters: dict | None = None,
    cluster: Cluster | None = None,
    namespace: str = "",
    team: Team | None = None,
    via: str = "ui",
    osb: dict | None = None,
) -> tuple[Instance, Operation]:
    """Validate a deploy request, create the instance and start its provisioning.

    ``osb``: for instances created over the OSB broker API (osbapi.services): ``platform``,
    ``osb_instance_id``, ``osb_context``, ``osb_request_digest`` set on the new instance."""
    from catalog.parameters import validate_parameters

    require_role(actor, org, Role.DEVELOPER)
    errors: dict[str, list[str]] = {}
    version = (
        version
        or service_type.versions.filter(state="published")
        .order_by("-major", "-minor", "-patch", "-is_release", "-prerelease")
        .first()
    )
    if version is None or version.type_id != service_type.pk or version.state != "published":
        raise ValidationError({"version": f"{service_type.slug} has no published version to deploy."})
    plans = service_type.plans.all()
    if plan is None and plans.exists():
        raise ValidationError({"plan": "Choose a plan: " + ", ".join(p.slug for p in plans)})
    if plan is not None and plan.type_id != service_type.pk:
        raise ValidationError({"plan": f"{plan.slug} is not a plan of {service_type.slug}."})
    at_broker = service_type.source == "broker"
    if at_broker:  # a broker instance lives at the broker: no cluster
        cluster = None
        if service_type.removed_from_broker:
            errors["type"] = [f"The broker no longer offers {service_type.slug}."]
        if plan is not None and plan.removed_from_broker:
            errors["plan"] = [f"The broker no longer offers the plan {plan.slug}."]
    else:
        try:
            cluster = _pick_cluster(org, cluster)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    instance = Instance(
        org=org,
        team=team,
        name=name,
        type=service_type,
        version=version,
        plan=plan,
        cluster=cluster if not errors else None,
        created_by=actor,
        namespace=namespace or (cluster.default_namespace if cluster and not errors else ""),
    )
    try:
        instance.full_clean(exclude=["cluster", "type", "version", "plan", "org"], validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if Instance.objects.filter(org=org, name=name).exclude(state=Instance.State.DEPROVISIONED).exists():
        errors["name"] = [f"{org.name} already has an instance called {name!r}."]
    try:
        values = validate_parameters(
            version, plan, parameters or {}, may_change_locked=is_type_owner(actor, service_type)
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    from marketplace.entitlements import require_entitlement

    _store_parameters(instance, values)
    for key, value in (osb or {}).items():
        setattr(instance, key, value)
    with transaction.atomic():
        # A paid marketplace plan needs an unused purchase; the org's entitlements are locked so two
        # concurrent deploys cannot both use the last one.
        require_entitlement(org, service_type, plan, lock=True)
        save_unique(instance, field="name", message=f"{org.name} already has an instance called {name!r}.")
        audit.record(
            actor=actor,
            action="instance.provision",
            org=org,
            target=instance,
            via=via,
            changes={
                "type": service_type.slug,
                "version": version.version,
                "plan": plan.slug if plan else None,
                "cluster": cluster.name if cluster else None,
                "broker": service_type.broker.name if at_broker and service_type.broker else None,
                "namespace": instance.namespace,
                "parameters": masked_parameters(instance),
            },
        )
        op = operations.start_operation(org=org, kind="instance.provision", target=instance, requested_by=actor)
    return instance, op


def _updated_values(actor, instance: Instance, plan, changes: dict) -> dict:
    from catalog.parameters import validate_parameters

    current = instance_parameters(instance)
    locked = set((plan.locked if plan else []) or [])
    requested = _deep_merge({k: v for k, v in current.items() if k not in locked}, changes)
    return validate_parameters(instance.version, plan, requested, may_change_locked=is_type_owner(actor, instance.type))


def preview_update(*, actor, instance: Instance, plan=None, changes: dict | None = None) -> dict:
    """What an update would change: the diff of rendered manifests (secrets masked)."""
    from instances.engines import engine_for

    require_role(actor, instance.org, Role.DEVELOPER)
    plan = plan or instance.plan
    values = _updated_values(actor, instance, plan, changes or {})
    from catalog.rendering import RenderError

    engine = engine_for(instance)
    try:
        before = engine.render(instance)
        after = engine.render(instance, parameters=values)
    except RenderError as exc:
        raise ValidationError({"parameters": f"The manifests do not render: {exc.describe()}"}) from exc
    secrets = _secret_values(instance, instance_parameters(instance), values)
    return {"diff": manifest_diff(before, after, secrets), "parameters": _masked(instance, values)}


def _masked(instance: Instance, values: dict) -> dict:
    plain, secrets = split_secrets(instance.version.parameter_schema or {}, values)
    for path in _secret_paths(instance.version.parameter_schema or {}):
        current = secrets
        for key in path:
            current = current.get(key) if isinstance(current, dict) else None
        if current is not None:
            _put_path(plain, path, SECRET_MASK)
    return plain


def _mask_secret_objects(objects: list[dict]) -> list[dict]:
    masked = json.loads(json.dumps(objects))
    for obj in masked:
        if obj.get("kind") == "Secret":
            for field in ("data", "stringData"):
                if isinstance(obj.get(field), dict):
                    obj[field] = {key: SECRET_MASK for key in obj[field]}
    return masked


def _secret_values(instance: Instance, *value_sets: dict) -> set[str]:
    found: set[str] = set()
    for values in value_sets:
        _, secrets = split_secrets(instance.version.parameter_schema or {}, values)
        stack = [secrets]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif item not in (None, ""):
                found.add(str(item))
    return found


def manifest_diff(before: list[dict], after: list[dict], secret_values: set[str] = frozenset()) -> str:
    """A unified diff of two renders; Secret data and every secret parameter value are masked."""
    import difflib

    import yaml

    def dump(objects):
        text = yaml.safe_dump_all(_mask_secret_objects(objects), sort_keys=True)
        for value in sorted(secret_values, key=len, reverse=True):
            text = text.replace(value, SECRET_MASK)
        return text.splitlines(keepends=True)

    return "".join(difflib.unified_diff(dump(before), dump(after), "current", "proposed"))


def update_instance(
    *, actor, instance: Instance, plan=None, changes: dict | None = None, via: str = "ui", version=None
) -> Operation:
    """Change plan and/or parameters (and with ``version``, the type version); the worker re-renders and applies."""
    require_role(actor, instance.org, Role.DEVELOPER)
    if instance.state not in (Instance.State.READY, Instance.State.FAILED):
        raise ValidationError(
            {
                "instance": f"{instance.name} is {instance.get_state_display().lower()}; "
                "it can be updated once it is ready."
            }
        )
    if plan is not None and plan.type_id != instance.type_id:
        raise ValidationError({"plan": f"{plan.slug} is not a plan of {instance.type.slug}."})
    new_plan = plan or instance.plan
    old_version = instance.version
    if version is not None and (version.type_id != instance.type_id or version.state != "published"):
        raise ValidationError({"version": f"{version} is not a published version of {instance.type.slug}."})
    instance.version = version or old_version  # the parameters are checked against the version to run
    try:
        values = _updated_values(actor, instance, new_plan, changes or {})
    finally:
        instance.version = old_version
    from marketplace.entitlements import hold_upgrade, require_entitlement

    held = hold_upgrade(actor=actor, instance=instance, plan=plan, changes=changes or {}, via=via)
    if held is not None:
        return held  # a pricier paid plan: a purchase request; the update runs once it is paid
    with transaction.atomic():
        locked = Instance.objects.select_for_update().get(pk=instance.pk)
        _ensure_idle(locked)
        if new_plan is not None and new_plan.pk != instance.plan_id:
            # Another paid plan needs an unused purchase of it (a cheaper one too: the instance's current
            # purchase stays with its plan); locked, so a concurrent deploy cannot take the same one.
            require_entitlement(instance.org, instance.type, new_plan, lock=True)
        before = {"plan": instance.plan.slug if instance.plan else None, "parameters": masked_parameters(instance)}
        if version is not None and version.pk != old_version.pk:
            before["version"] = old_version.version
        instance.plan = new_plan
        instance.version = version or old_version
        _store_parameters(instance, values)
        instance.state = Instance.State.UPDATING
        instance.updated_at = timezone.now()
        instance.save(update_fields=["plan", "version", "parameters", "secret_parameters", "state", "updated_at"])
        audit.record(
            actor=actor,
            action="instance.update",
            org=instance.org,
            target=instance,
            via=via,
            changes={
                "before": before,
                "after": {
                    "plan": new_plan.slug if new_plan else None,
                    "parameters": masked_parameters(instance),
                    **({"version": instance.version.version} if "version" in before else {}),
                },
            },
        )
        op = operations.start_operation(org=instance.org, kind="instance.update", target=instance, requested_by=actor)
    return op


def deprovision_instance(*, actor, instance: Instance, abandon: bool = False, via: str = "ui") -> Operation | None:
    """Delete everything the instance owns (an operation), or with ``abandon`` only forget it."""
    require_role(actor, instance.org, Role.DEVELOPER)
    if instance.state == Instance.State.DEPROVISIONED:
        raise ValidationError({"instance": f"{instance.name} is already deprovisioned."})
    live = instance.bindings.exclude(state=Binding.State.DELETED)
    if live.exists() and not abandon:
        names = ", ".join(b.name for b in live)
        raise ValidationError({"instance": f"Unbind its bindings first: {names}."})
    with transaction.atomic():
        locked = Instance.objects.select_for_update().get(pk=instance.pk)
        from marketplace.entitlements import release_for

        release_for(actor=actor, instance=instance, via=via)  # its subscription ends at period end
        if abandon:
            left = list(locked.resources or [])
            Instance.objects.filter(pk=instance.pk).update(
                state=Instance.State.DEPROVISIONED,
                abandoned=left,
                updated_at=timezone.now(),
                status_message="Abandoned: Servicebay forgot it without deleting anything in the cluster.",
            )
            live.update(state=Binding.State.DELETED, status_message="Abandoned with its instance.")
            audit.record(
                actor=actor,
                action="instance.abandon",
                org=instance.org,
                target=instance,
                via=via,
                changes={"left_behind": [f"{r['kind']}/{r['name']} in {r['namespace']}" for r in left]},
            )
            return None
        _ensure_idle(locked)
        Instance.objects.filter(pk=instance.pk).update(state=Instance.State.DEPROVISIONING, updated_at=timezone.now())
        audit.record(actor=actor, action="instance.deprovision", org=instance.org, target=instance, via=via)
        return operations.start_operation(
            org=instance.org, kind="instance.deprovision", target=instance, requested_by=actor
        )


# --- bindings -----------------------------------------------------------------------------


def bind_instance(
    *,
    actor,
    instance: Instance,
    app: str,
    app_namespace: str = "",
    name: str = "",
    app_cluster: Cluster | None = None,
    via: str = "ui",
) -> tuple[Binding, Operation]:
    """Bind an app (deployment/NAME or statefulset/NAME) to an instance of the actor's org or shared with it."""
    from instances.bindings import generate_secrets
    from instances.projection import AppRef
    from instances.selectors import binder_membership

    membership = binder_membership(actor, instance)
    require_role(actor, membership.org, Role.DEVELOPER)
    errors: dict[str, list[str]] = {}
    if instance.state != Instance.State.READY:
        raise ValidationError(
            {"instance": f"{instance.name} is {instance.get_state_display().lower()}; bind once it is ready."}
        )
    try:
        cluster = (
            instance.cluster
            if app_cluster is None and membership.org_id == instance.org_id and instance.cluster is not None
            else _pick_cluster(membership.org, app_cluster)
        )
    except ValidationError as exc:
        errors.update({"app_cluster": exc.messages})
        cluster = None
    namespace = app_namespace or (cluster.default_namespace if cluster else "")
    try:
        ref = AppRef.parse(app, namespace)
    except ValueError as exc:
        errors["app"] = [str(exc)]
        ref = None
    binding = Binding(
        instance=instance,
        org=membership.org,
        name=name or (ref.name[:40] if ref else ""),
        app_cluster=cluster,
        app_kind=ref.kind if ref else "",
        app_name=ref.name if ref else "",
        app_namespace=namespace,
        created_by=actor,
    )
    try:
        binding.full_clean(exclude=["instance", "org", "app_cluster", "credentials"], validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if binding.name and instance.bindings.filter(name=binding.name).exclude(state=Binding.State.DELETED).exists():
        errors["name"] = [f"{instance.name} already has a binding called {binding.name!r}; choose another --name."]
    if errors:
        raise ValidationError(errors)
    binding.secret_name = f"{instance.name}-{binding.name}-binding"[:253]
    binding.credentials = json.dumps({"generated": generate_secrets(instance.version.binding_template or {})})
    with transaction.atomic():
        binding.save()
        audit.record(
            actor=actor,
            action="binding.create",
            org=membership.org,
            target=binding,
            via=via,
            changes={"instance": instance.name, "app": str(ref), "cluster": cluster.name},
        )
        op = operations.start_operation(org=membership.org, kind="binding.create", target=binding, requested_by=actor)
    return binding, op


def bind_for_platform(
    *, actor, instance: Instance, name: str, osb: dict, via: str = "osb"
) -> tuple[Binding, Operation]:
    """A binding without an app here (OSB bind from another platform): the type's binding template is
    rendered by the same ``binding.create`` operation as for apps, but the credentials are returned to
    the platform instead of being written into a Secret. ``osb``: platform, osb_binding_id, osb_context,
    osb_request_digest."""
    from instances.bindings import generate_secrets

    require_role(actor, instance.org, Role.DEVELOPER)
    if instance.state != Instance.State.READY:
        raise ValidationError(
            {"instance": f"{instance.name} is {instance.get_state_display().lower()}; bind once it is ready."}
        )
    binding = Binding(instance=instance, org=instance.org, name=name, created_by=actor, **osb)
    binding.full_clean(exclude=["instance", "org", "credentials", "platform"], validate_constraints=False)
    binding.credentials = json.dumps({"generated": generate_secrets(instance.version.binding_template or {})})
    with transaction.atomic():
        save_unique(binding, field="binding", message=f"{instance.name} already has this binding.")
        audit.record(
            actor=actor,
            action="binding.create",
            org=instance.org,
            target=binding,
            via=via,
            changes={"instance": instance.name, "platform": str(binding.platform) if binding.platform else None},
        )
        op = operations.start_operation(org=instance.org, kind="binding.create", target=binding, requested_by=actor)
    return binding, op


def unbind(*, actor, binding: Binding, via: str = "ui") -> Operation:
    """Remove the Secret and the projection (the binder's org, or the instance's owners)."""
    if not has_role(actor, binding.org, Role.DEVELOPER) and not has_role(actor, binding.instance.org, Role.ADMIN):
        require_role(actor, binding.org, Role.DEVELOPER)  # raises 403/404 with the reason
    if binding.state in (Binding.State.DELETED, Binding.State.DELETING):
        raise ValidationError({"binding": f"The binding is already {binding.get_state_display().lower()}."})
    return _start_unbind(actor, binding, via)


def _start_unbind(actor, binding: Binding, via: str) -> Operation:
    with transaction.atomic():
        Binding.objects.filter(pk=binding.pk).update(state=Binding.State.DELETING)
        audit.record(actor=actor, action="binding.delete", org=binding.org, target=binding, via=via)
        return operations.start_operation(org=binding.org, kind="binding.delete", target=binding, requested_by=actor)


def reveal_credentials(*, actor, binding: Binding) -> dict:
    """The binding's credentials, once, to the user who made it; masked ever after."""
    if binding.created_by_id != actor.pk:
        raise PermissionDenied("Only the user who created the binding can see its credentials.")
    if binding.state != Binding.State.READY:
        raise ValidationError({"binding": f"The binding is {binding.get_state_display().lower()}; no credentials."})
    shown = Binding.objects.filter(pk=binding.pk, credentials_viewed_at__isnull=True).update(
        credentials_viewed_at=timezone.now()
    )
    if not shown:
        raise ValidationError(
            {
                "binding": "The credentials were already shown once. They stay readable by the app "
                "from its Secret; unbind and bind again for new ones."
            }
        )
    audit.record(actor=actor, action="binding.credentials_shown", org=binding.org, target=binding)
    return json.loads(binding.credentials).get("credentials", {})


def masked_credentials(binding: Binding) -> dict:
    data = json.loads(binding.credentials) if binding.credentials else {}
    return {key: SECRET_MASK for key in data.get("credentials", {})}


# --- sharing ------------------------------------------------------------------------------


def resolve_share_target(*, org: str = "", team: str = "") -> tuple[Team | None, Organization | None]:
    """``org="globex"`` or ``team="globex/support"`` → (team, org); a field error when unknown."""
    if team:
        org_slug, _, team_slug = team.partition("/")
        found = Team.objects.filter(org__slug=org_slug, slug=team_slug).select_related("org").first()
        if found is None:
            raise ValidationError({"team": f"No team {team!r} (use ORG/TEAM)."})
        return found, None
    if org:
        found_org = Organization.objects.filter(slug=org).first()
        if found_org is None:
            raise ValidationError({"org": f"No organization {org!r}."})
        return None, found_org
    raise ValidationError({"org": "Share with an organization (e.g. globex) or a team (ORG/TEAM)."})


def share_instance(
    *, actor, instance: Instance, team: Team | None = None, org: Organization | None = None, via: str = "ui"
) -> InstanceShare:
    require_role(actor, instance.org, Role.DEVELOPER)
    if (team is None) == (org is None):
        raise ValidationError({"target": "Share with either a team or an organization."})
    if org is not None and org.pk == instance.org_id:
        raise ValidationError({"org": "Everyone in its own organization can already see it."})
    share, created = InstanceShare.objects.get_or_create(instance=instance, team=team, org=org)
    if created:
        audit.record(
            actor=actor,
            action="instance.share",
            org=instance.org,
            target=instance,
            via=via,
            changes={"with": str(team or org)},
        )
    return share


def bindings_revoked_by_unsharing(share: InstanceShare) -> list[Binding]:
    """Bindings that exist only through this share: the shared org's, or the team members' own."""
    live = share.instance.bindings.exclude(state__in=[Binding.State.DELETED, Binding.State.DELETING])
    if share.org_id:
        return list(live.filter(org_id=share.org_id).select_related("org"))
    team_members = Membership.objects.filter(teams=share.team).values("user_id")
    return list(live.filter(org_id=share.team.org_id, created_by_id__in=team_members).select_related("org"))


def unshare_instance(*, actor, share: InstanceShare, confirm: bool = False, via: str = "ui") -> list[Operation]:
    """Stop sharing; their bindings are revoked — only after a confirmation that lists them."""
    require_role(actor, share.instance.org, Role.DEVELOPER)
    revoked = bindings_revoked_by_unsharing(share)
    if revoked and not confirm:
        names = ", ".join(f"{b.name} ({b.org.name})" for b in revoked)
        raise ValidationError({"confirm": f"Unsharing revokes {len(revoked)} binding(s): {names}. Confirm to go on."})
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="instance.unshare",
            org=share.instance.org,
            target=share.instance,
            via=via,
            changes={"with": str(share.team or share.org), "revoked": [b.name for b in revoked]},
        )
        share.delete()
        return [_start_unbind(actor, b, via) for b in revoked]
