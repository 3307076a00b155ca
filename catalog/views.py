"""Pages of the catalog app. One view serves a page and its htmx fragment."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from catalog import importer, selectors, services
from catalog import schema as sch
from catalog.api.serializers import cli_command
from catalog.forms import (
    ClusterSourceForm,
    ImportSourceForm,
    PlanForm,
    RegisteredServiceForm,
    SharingForm,
    TypeForm,
    VersionForm,
    dump_structured,
)
from catalog.models import RegisteredService, ServiceType, TypeVersion, Visibility
from catalog.schemaform import parameter_form_class, parameter_reference
from portal import audit
from portal.access import get_object_for_user, scope_for_user
from portal.current_org import current_membership
from portal.models import Operation, Role, Team
from portal.views import apply_errors

PAGE_SIZE = 24


def _org(request):
    membership = current_membership(request)
    return membership.org if membership else None


def _my_teams(request, org):
    """Teams of ``org`` the user may make owners (all of them for admins)."""
    if org is None:
        return Team.objects.none()
    ownership = selectors.Ownership.of(request.user)
    teams = Team.objects.filter(org=org)
    if org.pk in ownership.admin_org_ids:
        return teams
    return teams.filter(pk__in=ownership.developer_team_ids)


def _clusters(request, org):
    from instances.models import Cluster

    if org is None:
        return Cluster.objects.none()
    return scope_for_user(Cluster.objects.filter(org=org), request.user)


# --- browsing -------------------------------------------------------------------------------


@login_required
def catalog_index(request):
    """The catalog grid: search (name, tags, description) and filters (owner, source, visibility)."""
    filters = {
        "q": request.GET.get("q", "").strip()[:100],
        "owner": request.GET.get("owner", ""),
        "source": request.GET.get("source", ""),
        "visibility": request.GET.get("visibility", ""),
    }
    types = selectors.with_listing_data(selectors.search_types(request.user, **filters))
    page = Paginator(types, PAGE_SIZE).get_page(request.GET.get("page"))
    ownership = selectors.Ownership.of(request.user)
    for type_ in page.object_list:
        type_.latest = selectors.latest_live(type_)
        type_.is_owner = ownership.owns(type_)
    context = {
        "page": page,
        "filters": filters,
        "filtered": any(filters.values()),
        "query_string": "&".join(f"{k}={v}" for k, v in filters.items() if v),
        "owner_teams": selectors.owner_teams_for_filter(request.user),
        "sources": ServiceType.Source.choices,
        "visibilities": Visibility.choices,
        "can_create": bool(ownership.developer_team_ids or ownership.admin_org_ids),
        "org": _org(request),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "catalog/htmx/type_grid.html", context)
    return render(request, "catalog/index.html", context)


@login_required
def type_detail(request, slug):
    type_ = selectors.type_detail(request.user, slug)
    ownership = type_.ownership
    published = [v for v in type_.version_list if v.state == TypeVersion.State.PUBLISHED]
    shown = published[0] if published else (type_.version_list[0] if type_.version_list else None)
    wanted = request.GET.get("version")
    if wanted:
        shown = next((v for v in type_.version_list if v.version == wanted), shown)
    reference = parameter_reference(shown, type_.plan_list) if shown else []
    can_edit = ownership.can_edit(type_)
    schema = shown.parameter_schema if shown else {}
    for plan in type_.plan_list:
        plan.display_values = [
            (name, json.dumps(value) if not isinstance(value, str) else value)
            for name, value in _flatten(sch.mask(schema or {}, plan.values))
        ]
    context = {
        "type": type_,
        "versions": type_.version_list,
        "plans": type_.plan_list,
        "shown_version": shown,
        "deployable": published[0] if published else None,
        "reference": reference,
        "is_owner": ownership.owns(type_),
        "can_edit": can_edit,
        "cli": cli_command(type_),
        "sharing_form": SharingForm(
            initial={"visibility": type_.visibility, "shared_with": " ".join(o.slug for o in type_.shared_list)}
        ),
        "shared_with": type_.shared_list,
        "audit_events": audit.events_for_object(type_)[:10] if can_edit else [],
    }
    return render(request, "catalog/type_detail.html", context)


# --- types ----------------------------------------------------------------------------------


@login_required
def type_create(request):
    org = _org(request)
    if org is None:
        return render(request, "portal/no_org.html")
    require = selectors.Ownership.of(request.user)
    if org.pk not in require.admin_org_ids and not _my_teams(request, org).exists():
        raise PermissionDenied("You need to be a developer in a team to create service types.")
    form = TypeForm(request.POST or None, teams=_my_teams(request, org))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            type_ = services.create_type(actor=request.user, org=org, **data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{type_.name} created. Add its first version.")
            return redirect("catalog-version-new", type_.slug)
    return render(request, "catalog/type_form.html", {"form": form, "org": org, "creating": True})


@login_required
def type_edit(request, slug):
    type_ = selectors.get_type_for_user(request.user, slug)
    if not selectors.can_edit(request.user, type_):
        raise PermissionDenied(f"Only the {type_.owner_team.name} team and {type_.org.name} admins can edit this type.")
    initial = {
        "name": type_.name,
        "owner_team": type_.owner_team,
        "description": type_.description,
        "icon": type_.icon,
        "tags": ", ".join(type_.tags),
        "visibility": type_.visibility,
        "shared_with": " ".join(type_.shared_with.values_list("slug", flat=True)),
    }
    form = TypeForm(request.POST or None, initial=initial, teams=_my_teams(request, type_.org), editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_type(
                actor=request.user,
                type_=type_,
                **{k: data[k] for k in ("name", "description", "icon", "tags", "owner_team")},
            )
            services.share_type(
                actor=request.user, type_=type_, visibility=data["visibility"], shared_with=data["shared_with"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Type saved.")
            return redirect(type_)
    return render(request, "catalog/type_form.html", {"form": form, "type": type_, "creating": False})


@login_required
@require_POST
def type_share(request, slug):
    type_ = selectors.get_type_for_user(request.user, slug)
    form = SharingForm(request.POST)
    if form.is_valid():
        try:
            services.share_type(actor=request.user, type_=type_, **form.cleaned_data)
            messages.success(request, f"{type_.name} is now visible to: {type_.get_visibility_display().lower()}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect(type_)


# --- versions -------------------------------------------------------------------------------


def _version_initial(version: TypeVersion | None) -> dict:
    if version is None:
        return {
            "parameter_schema": json.dumps(
                {"$schema": sch.DEFAULT_DRAFT, "type": "object", "properties": {}}, indent=2
            ),
        }
    return {
        "manifests_template": version.manifests_template,
        "parameter_schema": json.dumps(version.parameter_schema, indent=2),
        "binding_template": dump_structured(version.binding_template),
        "outputs": dump_structured(version.outputs),
        "changelog": version.changelog,
    }


@login_required
def version_create(request, slug):
    type_ = selectors.get_type_for_user(request.user, slug)
    if not selectors.can_edit(request.user, type_):
        raise PermissionDenied(f"Only the {type_.owner_team.name} team and {type_.org.name} admins can add versions.")
    latest = TypeVersion.objects.filter(type=type_).first()
    initial = _version_initial(latest)
    if latest is not None:
        initial["version"] = str(latest.semver.bump_minor()) if latest.is_published else ""
        initial["changelog"] = ""
    else:
        initial["version"] = "1.0.0"
    form = VersionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = services.create_version(actor=request.user, type_=type_, **data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Draft {version.version} saved. Check it, then publish it.")
            return redirect("catalog-version", type_.slug, version.version)
    return render(request, "catalog/version_form.html", {"form": form, "type": type_, "creating": True})


@login_required
def version_detail(request, slug, version):
    """A version: read-only when published; the draft editor (save / check / publish / delete) otherwise."""
    type_ = selectors.get_type_for_user(request.user, slug)
    found = selectors.get_version_for_user(request.user, type_, version)
    can_edit = selectors.can_edit(request.user, type_)
    form = None
    problems = None
    if found.state == TypeVersion.State.DRAFT and can_edit:
        form = VersionForm(request.POST or None, initial=_version_initial(found), editing=True)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(f"Only the {type_.owner_team.name} team and {type_.org.name} admins can do this.")
        action = request.POST.get("action", "save")
        try:
            if action == "deprecate":
                services.deprecate_version(actor=request.user, version=found)
                messages.success(request, f"{found.version} is deprecated: existing instances keep it.")
                return redirect(type_)
            if action == "delete":
                services.delete_version(actor=request.user, version=found)
                messages.success(request, f"Draft {found.version} deleted.")
                return redirect(type_)
            if form is None:
                raise ValidationError({"state": f"Version {found.version} is {found.state} and cannot change."})
            if form.is_valid():
                found = services.update_version(actor=request.user, version=found, **form.cleaned_data)
                if action == "publish":
                    services.publish_version(actor=request.user, version=found)
                    messages.success(request, f"{type_.name} {found.version} is published.")
                    return redirect(type_)
                if action == "check":
                    problems = services.check_version(found)
                    if not problems:
                        messages.success(request, "Everything checks out: this version can be published.")
                else:
                    messages.success(request, "Draft saved.")
                    return redirect("catalog-version", type_.slug, found.version)
        except ValidationError as exc:
            if form is not None and hasattr(exc, "error_dict"):
                problems = exc.message_dict
                apply_errors(form, ValidationError({k: v for k, v in exc.message_dict.items() if k in form.fields}))
            else:
                messages.error(request, " ".join(exc.messages))
    context = {
        "type": type_,
        "version": found,
        "form": form,
        "can_edit": can_edit,
        "problems": problems,
        "binding_yaml": dump_structured(found.binding_template),
        "outputs_yaml": dump_structured(found.outputs),
        "schema_json": json.dumps(found.parameter_schema, indent=2),
        "reference": parameter_reference(found, list(type_.plans.all())),
    }
    return render(request, "catalog/version_detail.html", context)


# --- plans ----------------------------------------------------------------------------------


@login_required
def plan_edit(request, slug, plan=None):
    type_ = selectors.get_type_for_user(request.user, slug)
    if not selectors.can_edit(request.user, type_):
        raise PermissionDenied(f"Only the {type_.owner_team.name} team and {type_.org.name} admins can edit plans.")
    found = selectors.get_plan(type_, plan) if plan else None
    initial = {"order": type_.plans.count()}
    if found is not None:
        initial = {
            "name": found.name,
            "description": found.description,
            "values": dump_structured(found.values),
            "locked": ", ".join(found.locked),
            "order": found.order,
        }
    form = PlanForm(request.POST or None, initial=initial, editing=found is not None)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "delete" and found is not None:
                services.delete_plan(actor=request.user, plan=found)
                messages.success(request, f"Plan {found.name} deleted.")
                return redirect(type_)
            if form.is_valid():
                data = {**form.cleaned_data, "order": form.cleaned_data.get("order") or 0}
                if found is None:
                    services.create_plan(actor=request.user, type_=type_, **data)
                else:
                    services.update_plan(actor=request.user, plan=found, **data)
                messages.success(request, f"Plan {data['name']} saved.")
                return redirect(type_)
        except ValidationError as exc:
            apply_errors(form, exc)
    return render(request, "catalog/plan_form.html", {"form": form, "type": type_, "plan": found})


# --- deploy ---------------------------------------------------------------------------------


def _deploy_choices(request, type_):
    ownership = selectors.Ownership.of(request.user)
    versions = list(selectors.versions_for_user(request.user, type_, ownership))
    offered = [v for v in versions if v.state == TypeVersion.State.PUBLISHED]
    if ownership.owns(type_):
        offered += [v for v in versions if v.state == TypeVersion.State.DRAFT]
    wanted = request.GET.get("version") or request.POST.get("_version")
    version = next((v for v in offered if v.version == wanted), None) if wanted else (offered[0] if offered else None)
    if wanted and version is None:
        raise Http404(f"{type_.slug} has no version {wanted} to deploy.")
    plans = list(type_.plans.all())
    wanted_plan = request.GET.get("plan") or request.POST.get("_plan")
    plan = next((p for p in plans if p.slug == wanted_plan), None) if wanted_plan else (plans[0] if plans else None)
    if wanted_plan and plan is None:
        raise Http404(f"{type_.slug} has no plan {wanted_plan}.")
    if version is not None:
        version.type = type_
    if plan is not None:
        plan.type = type_
    return offered, version, plans, plan


@login_required
def deploy(request, slug):
    """The deploy form generated from the version's parameter schema (see catalog.schemaform)."""
    type_ = selectors.get_type_for_user(request.user, slug)
    offered, version, plans, plan = _deploy_choices(request, type_)
    if version is None:
        return render(request, "catalog/deploy.html", {"type": type_, "version": None})
    form_class = parameter_form_class(version, plan)
    form = form_class(request.POST or None)
    instance_name = (request.POST.get("_instance_name") or request.GET.get("name") or "").strip()
    context = {
        "type": type_,
        "version": version,
        "versions": offered,
        "plans": plans,
        "plan": plan,
        "form": form,
        "instance_name": instance_name,
        "submitted": None,
        "clusters": _clusters(request, _org(request)),
        "chosen_cluster": request.POST.get("_cluster", ""),
        "namespace": request.POST.get("_namespace", ""),
    }
    if request.method == "POST" and form.is_valid():
        return deploy_submitted(request, context)
    return render(request, "catalog/deploy.html", context)


def deploy_submitted(request, context: dict):
    """A valid deploy form: provision the instance (an operation) and follow it on its page."""
    from instances.models import Cluster
    from instances.services import provision_instance

    form = context["form"]
    org = _org(request)
    cluster_id = request.POST.get("_cluster") or ""
    cluster = Cluster.objects.filter(org=org, pk=cluster_id).first() if cluster_id.isdigit() else None
    try:
        if org is None:
            raise ValidationError({"_instance_name": "You are not a member of any organization."})
        instance, op = provision_instance(
            actor=request.user,
            org=org,
            service_type=context["type"],
            name=context["instance_name"],
            plan=context["plan"],
            version=context["version"],
            parameters=form.given_parameters(),
            cluster=cluster,
            namespace=(request.POST.get("_namespace") or "").strip(),
        )
    except ValidationError as exc:
        deploy_errors = {}
        for key, messages_ in exc.message_dict.items():
            field = key[1:].replace("/", ".") if key.startswith("/") else key
            if field in form.fields:
                form.add_error(field, messages_)
            else:
                deploy_errors[field] = messages_
        context["deploy_errors"] = deploy_errors
        return render(request, "catalog/deploy.html", context)
    messages.success(request, f"Provisioning {instance.name}: follow its progress below.")
    return redirect(instance)


def _flatten(values: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, name + "."))
        else:
            out.append((name, value))
    return out


# --- import ---------------------------------------------------------------------------------


@login_required
def import_wizard(request):
    """Step 1: a YAML upload (read now) or a cluster object (read by an operation); step 2: choose parameters."""
    org = _org(request)
    if org is None:
        return render(request, "portal/no_org.html")
    clusters = _clusters(request, org)
    yaml_form = ImportSourceForm()
    cluster_form = ClusterSourceForm(clusters=clusters)
    preview = None
    op_id = request.GET.get("operation")
    operation = None
    if op_id:
        operation = get_object_for_user(Operation.objects.all(), request.user, pk=op_id)
        if operation.kind != "type.read_cluster":
            raise Http404("Not an import.")
        if operation.state == Operation.State.SUCCEEDED:
            preview = operation.result
        elif request.htmx:
            return render(request, "catalog/htmx/import_waiting.html", {"operation": operation})
    if request.method == "POST" and request.POST.get("step") == "yaml":
        yaml_form = ImportSourceForm(request.POST, request.FILES)
        if yaml_form.is_valid():
            try:
                preview = importer.preview(importer.objects_from_yaml(yaml_form.cleaned_data["yaml"]))
            except ValidationError as exc:
                yaml_form.add_error("yaml_text", exc.messages)
    elif request.method == "POST" and request.POST.get("step") == "cluster":
        cluster_form = ClusterSourceForm(request.POST, clusters=clusters)
        if cluster_form.is_valid():
            data = cluster_form.cleaned_data
            try:
                op = services.read_cluster_for_import(
                    actor=request.user,
                    cluster=data["cluster"],
                    namespace=data["namespace"],
                    **{data["what"]: data["name"]},
                )
            except ValidationError as exc:
                apply_errors(cluster_form, exc)
            else:
                return redirect(f"{reverse('catalog-import')}?operation={op.pk}")
    elif request.method == "POST" and request.POST.get("step") == "create":
        return _import_create(request, org)
    context = {
        "org": org,
        "yaml_form": yaml_form,
        "cluster_form": cluster_form,
        "has_clusters": clusters.exists(),
        "operation": operation,
        "preview": preview,
    }
    if preview:
        context.update(_create_context(request, org, preview))
    return render(request, "catalog/import.html", context)


def _create_context(request, org, preview: dict, form=None, chosen=None) -> dict:
    teams = _my_teams(request, org)
    base = preview.get("base_name", "app")
    form = form or TypeForm(initial={"name": base.replace("-", " ").title(), "slug": base, "icon": "box"}, teams=teams)
    chosen = chosen if chosen is not None else {p["name"] for p in preview["proposals"] if p.get("selected")}
    return {
        "preview": preview,
        "type_form": form,
        "chosen": chosen,
        "objects_json": json.dumps(preview["objects"]),
        "objects_yaml": "---\n".join(importer.yaml_dump(o) for o in preview["objects"]),
    }


def _import_create(request, org):
    try:
        objects = json.loads(request.POST.get("objects", ""))
        source = importer.select_objects(objects, request.POST.get("description", "the import wizard"))
    except (ValueError, TypeError, KeyError, ValidationError):
        messages.error(request, "The objects of this import were lost or changed; start again.")
        return redirect("catalog-import")
    base_name = request.POST.get("base_name") or None
    preview = importer.preview(source, base_name)
    form = TypeForm(request.POST, teams=_my_teams(request, org))
    chosen = set(request.POST.getlist("param"))
    selections = []
    for proposal in preview["proposals"]:
        if proposal["name"] not in chosen:
            continue
        entry = {"name": proposal["name"]}
        for key in ("minimum", "maximum"):
            raw = request.POST.get(f"{key}:{proposal['name']}", "").strip()
            if raw:
                try:
                    entry[key] = int(raw) if raw.lstrip("-").isdigit() else float(raw)
                except ValueError:
                    form.add_error(None, f"{proposal['name']}: {key} must be a number.")
        enum = request.POST.get(f"enum:{proposal['name']}", "").strip()
        if enum:
            entry["enum"] = [e.strip() for e in enum.split(",") if e.strip()]
            if proposal["type"] == "integer":
                try:
                    entry["enum"] = [int(e) for e in entry["enum"]]
                except ValueError:
                    form.add_error(None, f"{proposal['name']}: the allowed values must be whole numbers.")
        pattern = request.POST.get(f"pattern:{proposal['name']}", "")
        if pattern != proposal.get("pattern", ""):
            entry["pattern"] = pattern
        selections.append(entry)
    if form.is_valid():
        data = form.cleaned_data
        try:
            version = services.import_type(
                actor=request.user,
                org=org,
                objects=source.objects,
                selections=selections,
                base_name=base_name,
                source_note=source.description,
                **data,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request, f"{version.type.name} created with draft {version.version}. Check and publish it."
            )
            return redirect("catalog-version", version.type.slug, version.version)
    context = {"org": org, "preview": preview, **_create_context(request, org, preview, form, chosen)}
    return render(request, "catalog/import.html", context)


# --- registered services --------------------------------------------------------------------


@login_required
def service_list(request):
    services_qs = selectors.registered_services_for_user(request.user).order_by("name", "pk")
    q = request.GET.get("q", "").strip()
    if q:
        services_qs = services_qs.filter(name__icontains=q) | services_qs.filter(description__icontains=q)
    page = Paginator(services_qs, 50).get_page(request.GET.get("page"))
    return render(request, "catalog/service_list.html", {"page": page, "q": q})


@login_required
def service_create(request):
    org = _org(request)
    if org is None:
        return render(request, "portal/no_org.html")
    form = RegisteredServiceForm(
        request.POST or None,
        initial={"kind": RegisteredService.Kind.KUBERNETES if _clusters(request, org).exists() else "external"},
        teams=_my_teams(request, org),
        clusters=_clusters(request, org),
    )
    if request.method == "POST" and form.is_valid():
        try:
            service = services.register_service(actor=request.user, org=org, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{service.name} is registered.")
            return redirect(service)
    return render(request, "catalog/service_form.html", {"form": form, "org": org})


@login_required
def service_detail(request, org_slug, slug):
    service = selectors.get_registered_service_for_user(request.user, org_slug, slug)
    can_edit = selectors.can_edit(request.user, service)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(f"Only the {service.owner_team.name} team can change this service.")
        action = request.POST.get("action")
        try:
            if action == "refresh":
                op = services.refresh_address(actor=request.user, service=service)
                return redirect(op)
            if action == "unregister":
                services.unregister_service(actor=request.user, service=service)
                messages.success(request, f"{service.name} is no longer registered.")
                return redirect("catalog-services")
            if action == "share":
                form = SharingForm(request.POST)
                if form.is_valid():
                    services.share_registered_service(actor=request.user, service=service, **form.cleaned_data)
                    messages.success(request, "Sharing saved.")
                else:
                    messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
                return redirect(service)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    if request.htmx:
        return render(request, "catalog/htmx/service_address.html", {"service": service})
    context = {
        "service": service,
        "can_edit": can_edit,
        "sharing_form": SharingForm(
            initial={"visibility": service.visibility, "shared_with": " ".join(o.slug for o in service.shared_list)}
        ),
        "audit_events": audit.events_for_object(service)[:10] if can_edit else [],
        "roles": Role,
    }
    return render(request, "catalog/service_detail.html", context)


# --- brokers --------------------------------------------------------------------------------


def _last_checked(broker):
    times = [t for t in (getattr(broker, "last_checked_at", None), broker.last_sync_at) if t is not None]
    return max(times) if times else None


@login_required
def broker_list(request):
    """Brokers the user can see: sync state, when last checked, the last sync error, offerings and plans."""
    ownership = selectors.Ownership.of(request.user)
    brokers_ = list(selectors.brokers_for_user(request.user))
    for broker in brokers_:
        broker.last_checked = _last_checked(broker)
        broker.can_manage = selectors.can_manage_broker(request.user, broker, ownership)
    org = _org(request)
    can_register = request.user.is_staff or (org is not None and org.pk in ownership.admin_org_ids)
    return render(request, "catalog/broker_list.html", {"brokers": brokers_, "can_register": can_register})


@login_required
def broker_create(request):
    """Register a broker (org admins; global brokers for staff) through catalog.brokers.register_broker."""
    from catalog import brokers as broker_services
    from catalog.forms import BrokerForm

    org = _org(request)
    staff = request.user.is_staff or request.user.is_superuser
    is_admin = org is not None and org.pk in selectors.Ownership.of(request.user).admin_org_ids
    if not (is_admin or staff):
        raise PermissionDenied("Only organization admins (or staff, for global brokers) can register brokers.")
    teams = Team.objects.filter(org=org).order_by("name") if org is not None else Team.objects.none()
    form = BrokerForm(request.POST or None, teams=teams, allow_global=staff)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["scope"] == "global" and data["owner_team"] is None:
            data["owner_team"] = teams.first()  # a global broker's types still need an owning team
        try:
            broker, op = broker_services.register_broker(
                actor=request.user,
                org=None if data["scope"] == "global" else org,
                name=data["name"],
                url=data["url"],
                auth_kind=data["auth_kind"],
                username=data["username"],
                secret=data["secret"],
                owner_team=data["owner_team"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Broker {broker.name} is registered; its catalog is being synced.")
            return redirect("catalog-broker", pk=broker.pk)
    return render(request, "catalog/broker_form.html", {"form": form, "org": org})


@login_required
def broker_detail(request, pk):
    """One broker: its sync state and offerings (removed ones badged), plans with maintenance_info;
    admins can sync now or remove it."""
    from catalog import brokers as broker_services

    broker = selectors.get_broker_for_user(request.user, pk)
    can_manage = selectors.can_manage_broker(request.user, broker)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only admins of the broker's organization can change it.")
        action = request.POST.get("action")
        try:
            if action == "sync":
                return redirect(broker_services.request_sync(actor=request.user, broker=broker))
            if action == "remove":
                broker_services.remove_broker(actor=request.user, broker=broker)
                messages.success(request, f"Broker {broker.name} is removed; its types stay, marked removed.")
                return redirect("catalog-brokers")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("catalog-broker", pk=broker.pk)
    offerings = (
        ServiceType.objects.filter(broker=broker).prefetch_related("plans").order_by("removed_from_broker", "name")
    )
    context = {
        "broker": broker,
        "last_checked": _last_checked(broker),
        "offerings": offerings,
        "can_manage": can_manage,
    }
    return render(request, "catalog/broker_detail.html", context)


@login_required
@require_POST
def type_osb(request, slug):
    """Owners toggle "available over OSB" (Servicebay as an Open Service Broker, osbapi/)."""
    type_ = selectors.get_type_for_user(request.user, slug)
    enabled = request.POST.get("osb_enabled") == "1"
    try:
        services.set_osb_enabled(actor=request.user, type_=type_, enabled=enabled)
        if enabled:
            messages.success(request, f"{type_.name} is now available to other platforms over OSB.")
        else:
            messages.success(request, f"{type_.name} is no longer offered over OSB.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(type_)
