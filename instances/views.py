"""Pages of the instances app."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from instances import services
from instances.forms import ClusterForm
from instances.models import Cluster
from portal.access import get_object_for_user
from portal.current_org import current_membership
from portal.models import Role
from portal.views import apply_errors


@login_required
def instance_index(request):
    return render(request, "instances/index.html")


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
