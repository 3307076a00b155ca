"""Pages: org admins create (secret shown once) and revoke platform credentials; everyone in the org
sees which platforms consume its types and how many instances each has."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from instances.models import Instance
from osbapi import selectors, services
from osbapi.forms import PlatformForm
from osbapi.models import PlatformCredential
from portal.access import get_object_for_user
from portal.current_org import current_membership
from portal.models import Role
from portal.views import apply_errors


@login_required
def platform_list(request):
    membership = current_membership(request)
    if membership is None:
        return render(request, "portal/no_org.html")
    is_admin = membership.has_role(Role.ADMIN)
    form = PlatformForm(org=membership.org)
    created = None
    if request.method == "POST" and is_admin:
        form = PlatformForm(request.POST, org=membership.org)
        if form.is_valid():
            try:
                created, secret = services.create_platform_credential(
                    actor=request.user, org=membership.org, **form.cleaned_data
                )
                created.secret = secret  # shown on this response only
                form = PlatformForm(org=membership.org)
            except ValidationError as exc:
                apply_errors(form, exc)
    live = ~Q(instances__state=Instance.State.DEPROVISIONED)
    platforms = (
        selectors.platforms_for_user(request.user)
        .filter(org=membership.org)
        .annotate(instance_count=Count("instances", filter=live & Q(instances__isnull=False)))
        .order_by("name", "pk")
    )
    context = {
        "platforms": platforms,
        "form": form,
        "is_admin": is_admin,
        "org": membership.org,
        "created": created,
        "broker_url": f"{settings.SITE_URL.rstrip('/')}/osb",
    }
    return render(request, "osbapi/platform_list.html", context)


@login_required
@require_POST
def platform_revoke(request, pk):
    platform = get_object_for_user(PlatformCredential.objects.select_related("org"), request.user, pk=pk)
    try:
        services.revoke_platform_credential(actor=request.user, credential=platform)
        messages.success(request, f"Platform {platform.name} can no longer use the broker API.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("platform-list")
