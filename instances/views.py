"""Pages of the instances app."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from instances import services
from instances.forms import BindForm, ClusterForm, ShareForm, UpdateForm
from instances.models import Binding, Cluster, Instance
from instances.selectors import (
    get_bindable_instance,
    get_binding_for_user,
    get_instance_for_user,
    instances_for_user,
    shared_instances_for_user,
)
from portal.access import get_object_for_user, has_role
from portal.current_org import current_membership
from portal.models import Operation, Role
from portal.views import apply_errors


@login_required
def instance_index(request):
    membership = current_membership(request)
    instances = instances_for_user(request.user)
    if membership is not None:
        instances = instances.filter(org=membership.org)
    state = request.GET.get("state", "")
    if state in Instance.State.values:
        instances = instances.filter(state=state)
    query = request.GET.get("q", "").strip()
    if query:
        instances = instances.filter(name__icontains=query)
    platform = request.GET.get("platform", "").strip()
    if platform:  # instances other platforms created over OSB (osbapi/)
        instances = instances.filter(platform__name=platform)
    context = {
        "platform": platform,
        "instances": instances,
        "shared": shared_instances_for_user(request.user),
        "state": state,
        "states": Instance.State.choices,
        "q": query,
        "has_cluster": membership is not None and membership.org.clusters.exists(),
    }
    return render(request, "instances/index.html", context)


@login_required
def shared_instance(request, pk):
    instance, membership = get_bindable_instance(request.user, pk)
    if membership.org_id == instance.org_id:
        return redirect(instance)
    return render(
        request, "instances/shared_instance.html", {"instance": instance, "bind_form": BindForm(org=membership.org)}
    )


@login_required
def cluster_list(request):
    membership = current_membership(request)
    if membership is None:
        return render(request, "portal/no_org.html")
    is_admin = membership.has_role(Role.ADMIN)
    form = ClusterForm()
    if request.method == "POST":
        form = ClusterForm(request.POST)
        if form.is_valid():
            try:
                cluster, op = services.register_cluster(actor=request.user, org=membership.org, **form.cleaned_data)
                messages.success(request, f"Cluster {cluster.name} registered; checking it now.")
                return redirect(op)
            except ValidationError as exc:
                apply_errors(form, exc)
    clusters = Cluster.objects.filter(org=membership.org)
    context = {
        "clusters": clusters,
        "form": form,
        "is_admin": is_admin,
        "org": membership.org,
        "can_check": membership.has_role(Role.DEVELOPER),
        "local_kubeconfig": settings.LOCAL_KUBECONFIG,
    }
    template = "instances/htmx/cluster_table.html" if request.htmx else "instances/cluster_list.html"
    return render(request, template, context)


@login_required
@require_POST
def cluster_check(request, pk: int):
    cluster = get_object_for_user(Cluster.objects.select_related("org"), request.user, pk=pk)
    op = services.check_cluster(actor=request.user, cluster=cluster)
    return redirect(op)


@login_required
@require_POST
def cluster_remove(request, pk: int):
    cluster = get_object_for_user(Cluster.objects.select_related("org"), request.user, pk=pk)
    services.remove_cluster(actor=request.user, cluster=cluster)
    messages.success(request, f"Cluster {cluster.name} was removed.")
    return redirect("cluster-list")


def _instance_context(request, instance: Instance) -> dict:
    from portal.audit import events_for_object

    membership = current_membership(request)
    ops = Operation.objects.filter(target_type=ContentType.objects.get_for_model(Instance), target_id=str(instance.pk))
    return {
        "instance": instance,
        "parameters": services.masked_parameters(instance),
        "bindings": instance.bindings.exclude(state=Binding.State.DELETED).select_related(
            "org", "created_by", "app_cluster"
        ),
        "shares": instance.shares.select_related("team__org", "org"),
        "operations": ops.select_related("requested_by")[:10],
        "live_op": ops.filter(state__in=[Operation.State.PENDING, Operation.State.IN_PROGRESS]).first(),
        "audit_events": events_for_object(instance)[:20],
        "can_change": has_role(request.user, instance.org, Role.DEVELOPER),
        "bind_form": BindForm(org=membership.org if membership else instance.org),
        "share_form": ShareForm(),
        "update_form": UpdateForm(instance=instance),
    }


@login_required
def instance_detail(request, pk):
    instance = get_instance_for_user(request.user, pk)
    context = _instance_context(request, instance)
    if request.htmx:
        return render(request, "instances/htmx/instance_status.html", context)
    return render(request, "instances/instance_detail.html", context)


def _resolve_plan(instance, slug):
    return instance.type.plans.filter(slug=slug).first() if slug else None


@login_required
@require_POST
def instance_update(request, pk):
    instance = get_instance_for_user(request.user, pk)
    form = UpdateForm(request.POST, instance=instance)
    context = _instance_context(request, instance)
    if form.is_valid():
        plan = _resolve_plan(instance, form.cleaned_data["plan"])
        try:
            if request.POST.get("preview"):
                context["preview"] = services.preview_update(
                    actor=request.user, instance=instance, plan=plan, changes=form.cleaned_data["parameters"]
                )
            else:
                op = services.update_instance(
                    actor=request.user, instance=instance, plan=plan, changes=form.cleaned_data["parameters"]
                )
                messages.success(request, f"Updating {instance.name}.")
                return redirect(op)
        except ValidationError as exc:
            apply_errors(form, exc, pointer_field="parameters")
    context["update_form"] = form
    context["open_panel"] = "update"
    return render(request, "instances/instance_detail.html", context)


@login_required
@require_POST
def instance_deprovision(request, pk):
    instance = get_instance_for_user(request.user, pk)
    try:
        op = services.deprovision_instance(
            actor=request.user, instance=instance, abandon=bool(request.POST.get("abandon"))
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(instance)
    if op is None:
        messages.warning(request, f"{instance.name} was abandoned; its objects were left in the cluster.")
        return redirect(instance)
    return redirect(op)


@login_required
@require_POST
def instance_bind(request, pk):
    instance, membership = get_bindable_instance(request.user, pk)
    form = BindForm(request.POST, org=membership.org)
    if form.is_valid():
        data = form.cleaned_data
        try:
            binding, op = services.bind_instance(
                actor=request.user,
                instance=instance,
                app=data["app"],
                app_namespace=data["namespace"],
                name=data["name"],
                app_cluster=data["cluster"],
            )
            messages.success(request, f"Binding {data['app']}: its credentials will be shown to you once, here.")
            return redirect("binding-detail", pk=binding.pk)
        except ValidationError as exc:
            apply_errors(form, exc)
    if membership.org_id != instance.org_id:
        return render(request, "instances/shared_instance.html", {"instance": instance, "bind_form": form})
    context = _instance_context(request, instance)
    context["bind_form"] = form
    context["open_panel"] = "bind"
    return render(request, "instances/instance_detail.html", context)


@login_required
def binding_detail(request, pk):
    binding = get_binding_for_user(request.user, pk)
    credentials = None
    if request.method == "POST":
        try:
            credentials = services.reveal_credentials(actor=request.user, binding=binding)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    ops = Operation.objects.filter(target_type=ContentType.objects.get_for_model(Binding), target_id=str(binding.pk))
    context = {
        "binding": binding,
        "credentials": credentials,
        "masked": services.masked_credentials(binding),
        "live_op": ops.filter(state__in=[Operation.State.PENDING, Operation.State.IN_PROGRESS]).first(),
        "operations": ops[:5],
    }
    template = "instances/htmx/binding_status.html" if request.htmx else "instances/binding_detail.html"
    response = render(request, template, context)
    if credentials:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def binding_unbind(request, pk):
    binding = get_binding_for_user(request.user, pk)
    try:
        op = services.unbind(actor=request.user, binding=binding)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("binding-detail", pk=binding.pk)
    return redirect(op)


@login_required
@require_POST
def instance_share(request, pk):
    instance = get_instance_for_user(request.user, pk)
    form = ShareForm(request.POST)
    if form.is_valid():
        target = form.cleaned_data["target"].strip()
        try:
            team, org = services.resolve_share_target(**({"team": target} if "/" in target else {"org": target}))
            services.share_instance(actor=request.user, instance=instance, team=team, org=org)
            messages.success(request, f"{instance.name} is shared with {target}.")
            return redirect(instance)
        except ValidationError as exc:
            form.add_error("target", exc.messages)
    context = _instance_context(request, instance)
    context["share_form"] = form
    context["open_panel"] = "share"
    return render(request, "instances/instance_detail.html", context)


@login_required
def instance_unshare(request, pk, share_id):
    """GET: a confirmation that lists the bindings unsharing revokes (as Cloud Foundry does); POST: do it."""
    instance = get_instance_for_user(request.user, pk)
    share = instance.shares.filter(pk=share_id).select_related("team__org", "org").first()
    if share is None:
        raise Http404("No share matches the given query.")
    if request.method == "POST":
        ops = services.unshare_instance(actor=request.user, share=share, confirm=True)
        messages.success(request, f"No longer shared with {share.team or share.org}; {len(ops)} binding(s) revoked.")
        return redirect(instance)
    revoked = services.bindings_revoked_by_unsharing(share)
    return render(request, "instances/unshare_confirm.html", {"instance": instance, "share": share, "revoked": revoked})
