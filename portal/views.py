"""Pages of the portal app. One view serves a page and its htmx fragment."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from portal import audit, services
from portal.access import get_object_for_user, get_org_for_user, has_role, people_of, require_role, scope_for_user
from portal.current_org import current_membership, forget_membership
from portal.forms import (
    AddMemberForm,
    ApiTokenForm,
    ChangeRoleForm,
    NotificationPreferencesForm,
    OrgSettingsForm,
    TeamForm,
)
from portal.models import ApiToken, AuditEvent, Membership, Notification, Operation, Organization, Role
from portal.notifications import mark_read, unread_count


def apply_errors(form, exc: ValidationError, pointer_field: str | None = None) -> None:
    """Show a service's ValidationError next to the form's fields.

    Errors keyed by a JSON pointer (``/replicas``) go next to ``pointer_field`` when given.
    """
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            if field.startswith("/") and pointer_field:
                form.add_error(pointer_field, [f"{field[1:].replace('/', '.')}: {e}" for e in errors])
            else:
                form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _org_or_none(request):
    membership = current_membership(request)
    return membership.org if membership else None


@login_required
def dashboard(request):
    org = _org_or_none(request)
    context = {"org": org}
    if org is not None:
        ops = Operation.objects.filter(org=org)
        context.update(
            recent_operations=ops.select_related("requested_by")[:8],
            operation_counts=ops.aggregate(
                running=Count("pk", filter=Q(state__in=[Operation.State.PENDING, Operation.State.IN_PROGRESS])),
                failed=Count("pk", filter=Q(state=Operation.State.FAILED)),
                total=Count("pk"),
            ),
            member_count=people_of(org).count(),
            recent_audit=AuditEvent.objects.filter(org=org).select_related("actor")[:8],
            kubernetes_on=org.clusters.filter(reachable=True).exists(),
        )
    return render(request, "portal/dashboard.html", context)


@login_required
@require_POST
def switch_org(request):
    org = get_org_for_user(request.user, request.POST.get("org", ""))
    services.switch_org(request.user, org)
    forget_membership(request)
    messages.success(request, f"You are now working in {org.name}.")
    next_url = request.POST.get("next") or "/"
    return redirect(next_url if next_url.startswith("/") and not next_url.startswith("//") else "/")


@login_required
def org_settings(request):
    membership = current_membership(request)
    if membership is None:
        return render(request, "portal/no_org.html")
    org = membership.org
    is_admin = membership.has_role(Role.ADMIN)
    settings_form = OrgSettingsForm(instance=org)
    member_form = AddMemberForm(org=org)
    team_form = TeamForm()
    if request.method == "POST":
        require_role(request.user, org, Role.ADMIN)  # members below admin get 403 with the reason
        form_name = request.POST.get("form")
        try:
            if form_name == "settings":
                settings_form = OrgSettingsForm(request.POST, instance=Organization.objects.get(pk=org.pk))
                if settings_form.is_valid():
                    services.update_org_settings(actor=request.user, org=org, **settings_form.cleaned_data)
                    messages.success(request, "Organization settings saved.")
                    return redirect("org-settings")
            elif form_name == "member":
                member_form = AddMemberForm(request.POST, org=org)
                if member_form.is_valid():
                    data = member_form.cleaned_data
                    services.add_member(
                        actor=request.user,
                        org=org,
                        user_identifier=data["user"],
                        role=data["role"],
                        teams=list(data["teams"]),
                    )
                    messages.success(request, f"{data['user']} was added as {data['role']}.")
                    return redirect("org-settings")
            elif form_name == "team":
                team_form = TeamForm(request.POST)
                if team_form.is_valid():
                    services.create_team(actor=request.user, org=org, **team_form.cleaned_data)
                    messages.success(request, "Team created.")
                    return redirect("org-settings")
        except ValidationError as exc:
            apply_errors({"settings": settings_form, "member": member_form, "team": team_form}[form_name], exc)
    members = people_of(org).select_related("user").prefetch_related("teams")
    return render(
        request,
        "portal/org_settings.html",
        {
            "org": org,
            "is_admin": is_admin,
            "members": members,
            "teams": org.teams.annotate(size=Count("memberships")),
            "settings_form": settings_form,
            "member_form": member_form,
            "team_form": team_form,
            "roles": Role.choices,
        },
    )


@login_required
@require_POST
def member_change(request, pk: int):
    membership = get_object_for_user(Membership.objects.select_related("org", "user"), request.user, pk=pk)
    try:
        if request.POST.get("action") == "remove":
            services.remove_member(actor=request.user, membership=membership)
            messages.success(request, f"{membership.user.get_username()} was removed.")
        else:
            form = ChangeRoleForm(request.POST)
            if form.is_valid():
                services.change_member(actor=request.user, membership=membership, role=form.cleaned_data["role"])
                messages.success(request, f"{membership.user.get_username()} is now {form.cleaned_data['role']}.")
            else:
                messages.error(request, "Choose a valid role.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("org-settings")


@login_required
def org_audit(request):
    org = _org_or_none(request)
    if org is None:
        return render(request, "portal/no_org.html")
    events = AuditEvent.objects.filter(org=org).select_related("actor", "target_type")
    action = request.GET.get("action", "").strip()
    if action:
        events = events.filter(action__startswith=action)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "portal/org_audit.html", {"org": org, "page": page, "action": action})


@login_required
@require_POST
def check_workers(request):
    org = _org_or_none(request)
    if org is None:
        return redirect("dashboard")
    op = services.check_workers(actor=request.user, org=org)
    return redirect(op)


@login_required
def operation_list(request):
    ops = scope_for_user(Operation.objects.all(), request.user).select_related("org", "requested_by")
    org = _org_or_none(request)
    if org is not None:
        ops = ops.filter(org=org)
    state = request.GET.get("state", "")
    if state in Operation.State.values:
        ops = ops.filter(state=state)
    page = Paginator(ops, 50).get_page(request.GET.get("page"))
    return render(
        request, "portal/operation_list.html", {"page": page, "state": state, "states": Operation.State.choices}
    )


@login_required
def operation_detail(request, pk):
    op = get_object_for_user(Operation.objects.select_related("org", "requested_by"), request.user, pk=pk)
    steps = op.steps.all()
    context = {
        "op": op,
        "steps": steps,
        "can_cancel": not op.is_terminal and has_role(request.user, op.org, Role.DEVELOPER),
    }
    if request.htmx:
        response = render(request, "portal/htmx/operation_progress.html", context)
        if op.is_terminal:
            response["HX-Trigger"] = "operation-finished"
        return response
    context["audit_events"] = audit.events_for_object(op)
    return render(request, "portal/operation_detail.html", context)


@login_required
@require_POST
def operation_cancel(request, pk):
    op = get_object_for_user(Operation.objects.select_related("org"), request.user, pk=pk)
    try:
        services.cancel_operation(actor=request.user, operation=op)
        messages.success(request, "The operation was cancelled.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(op)


@login_required
def inbox(request):
    notes = Notification.objects.filter(user=request.user).select_related("org")
    show = request.GET.get("show", "all")
    if show == "unread":
        notes = notes.filter(read_at__isnull=True)
    page = Paginator(notes, 30).get_page(request.GET.get("page"))
    template = "portal/htmx/inbox_list.html" if request.htmx and not request.htmx.boosted else "portal/inbox.html"
    return render(request, template, {"page": page, "show": show})


@login_required
def inbox_badge(request):
    return render(request, "portal/htmx/inbox_badge.html", {"unread": unread_count(request.user)})


@login_required
@require_POST
def inbox_read(request, pk: int | None = None):
    if pk is None:
        mark_read(request.user)
    else:
        note = get_object_or_404(Notification, pk=pk, user=request.user)
        mark_read(request.user, [note.pk])
        if note.url and request.POST.get("open"):
            return redirect(note.url if note.url.startswith("/") else "inbox")
    if request.htmx:
        response = inbox(request)
        response["HX-Trigger"] = "inbox-changed"
        return response
    return redirect("inbox")


@login_required
def user_settings(request):
    profile = services.get_profile(request.user)
    token_form = ApiTokenForm()
    prefs_form = NotificationPreferencesForm(initial={"email_notifications": profile.email_notifications})
    new_key = None
    if request.method == "POST":
        if request.POST.get("form") == "token":
            token_form = ApiTokenForm(request.POST)
            if token_form.is_valid():
                try:
                    token, new_key = services.create_api_token(user=request.user, **token_form.cleaned_data)
                    token_form = ApiTokenForm()
                except ValidationError as exc:
                    apply_errors(token_form, exc)
        elif request.POST.get("form") == "prefs":
            prefs_form = NotificationPreferencesForm(request.POST)
            if prefs_form.is_valid():
                services.set_notification_preferences(request.user, **prefs_form.cleaned_data)
                messages.success(request, "Notification preferences saved.")
                return redirect("user-settings")
    tokens = ApiToken.objects.filter(user=request.user)
    response = render(
        request,
        "portal/user_settings.html",
        {"token_form": token_form, "prefs_form": prefs_form, "tokens": tokens, "new_key": new_key},
    )
    if new_key:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    services.revoke_api_token(user=request.user, token=token)
    messages.success(request, f"Token {token.name!r} was revoked.")
    return redirect("user-settings")


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/osb/")


def error_404(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"error": {"code": "not_found", "message": "Not found."}}, status=404)
    return render(request, "404.html", status=404)


def error_403(request, exception=None):
    message = str(exception) if exception and str(exception) else "You do not have permission to do this."
    if _wants_json(request):
        return JsonResponse({"error": {"code": "permission_denied", "message": message}}, status=403)
    return render(request, "403.html", {"message": message}, status=403)


def error_400(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"error": {"code": "bad_request", "message": "Bad request."}}, status=400)
    return render(request, "400.html", status=400)


def error_500(request):
    if _wants_json(request):
        return JsonResponse({"error": {"code": "server_error", "message": "Internal server error."}}, status=500)
    return render(request, "500.html", status=500)


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
