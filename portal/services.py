"""Every write of the portal app. Views, API, CLI (through the API) and tasks call these.

Each function is one transaction, records an audit event and checks the actor's role.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from portal import audit, operations
from portal.access import require_role
from portal.db import save_unique
from portal.models import ApiToken, Membership, Operation, Organization, Profile, Role, Team

User = get_user_model()
TOKEN_PREFIX = "sbay_"  # noqa: S105 (a prefix, not a secret)


# --- profile and current org -------------------------------------------------------------


def get_profile(user) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def switch_org(user, org: Organization) -> None:
    require_role(user, org, Role.VIEWER)
    Profile.objects.update_or_create(user=user, defaults={"current_org": org})


def set_notification_preferences(user, *, email_notifications: bool) -> Profile:
    profile, _ = Profile.objects.update_or_create(user=user, defaults={"email_notifications": email_notifications})
    return profile


# --- organizations, teams, members ------------------------------------------------------


@transaction.atomic
def create_org(*, actor, name: str, slug: str, via: str = "ui") -> Organization:
    org = Organization(name=name, slug=slug)
    org.full_clean(validate_unique=False)
    save_unique(org, field="slug", message="An organization with this slug already exists.")
    Membership.objects.create(org=org, user=actor, role=Role.ADMIN)
    audit.record(actor=actor, action="org.create", org=org, target=org, via=via)
    return org


@transaction.atomic
def update_org_settings(
    *, actor, org: Organization, name: str | None = None, monthly_spend_limit: Decimal | None = None, via: str = "ui"
) -> Organization:
    require_role(actor, org, Role.ADMIN)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    changes = {}
    if name is not None and name != org.name:
        changes["name"] = [org.name, name]
        org.name = name
    if monthly_spend_limit is not None and monthly_spend_limit != org.monthly_spend_limit:
        changes["monthly_spend_limit"] = [str(org.monthly_spend_limit), str(monthly_spend_limit)]
        org.monthly_spend_limit = monthly_spend_limit
    org.full_clean()
    if changes:
        org.save()
        audit.record(actor=actor, action="org.update", org=org, target=org, changes=changes, via=via)
    return org


@transaction.atomic
def create_team(*, actor, org: Organization, name: str, slug: str, description: str = "", via: str = "ui") -> Team:
    require_role(actor, org, Role.ADMIN)
    team = Team(org=org, name=name, slug=slug, description=description)
    team.full_clean()
    team.save()
    audit.record(actor=actor, action="team.create", org=org, target=team, via=via)
    return team


def _find_user(identifier: str):
    identifier = identifier.strip()
    user = User.objects.filter(username=identifier).first() or User.objects.filter(email__iexact=identifier).first()
    if user is None:
        raise ValidationError({"user": f"No user with the username or email {identifier!r}."})
    return user


def _refuse_platform_principal(user) -> None:
    """OSB platforms act through principal users of their own (osbapi): managed on the Platforms page only."""
    if user.__class__.objects.filter(pk=user.pk, platform_credential__isnull=False).exists():
        raise ValidationError({"user": f"{user.get_username()} is an OSB platform; manage it on the Platforms page."})


def _set_teams(membership: Membership, teams: list[Team] | None) -> None:
    if teams is None:
        return
    if any(team.org_id != membership.org_id for team in teams):
        raise ValidationError({"teams": "Teams must belong to the same organization."})
    membership.teams.set(teams)


@transaction.atomic
def add_member(
    *, actor, org: Organization, user_identifier: str, role: str, teams: list[Team] | None = None, via: str = "ui"
) -> Membership:
    require_role(actor, org, Role.ADMIN)
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; use one of {', '.join(Role.values)}."})
    user = _find_user(user_identifier)
    _refuse_platform_principal(user)
    if Membership.objects.filter(org=org, user=user).exists():
        raise ValidationError({"user": f"{user.get_username()} is already a member of {org.name}."})
    membership = Membership.objects.create(org=org, user=user, role=role)
    _set_teams(membership, teams)
    audit.record(
        actor=actor,
        action="member.add",
        org=org,
        target=membership,
        changes={"user": user.get_username(), "role": role},
        via=via,
    )
    return membership


def _ensure_an_admin_remains(membership: Membership) -> None:
    others = Membership.objects.filter(org=membership.org, role=Role.ADMIN).exclude(pk=membership.pk)
    if membership.role == Role.ADMIN and not others.exists():
        raise ValidationError({"role": "An organization needs at least one admin."})


@transaction.atomic
def change_member(
    *, actor, membership: Membership, role: str | None = None, teams: list[Team] | None = None, via: str = "ui"
) -> Membership:
    require_role(actor, membership.org, Role.ADMIN)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _refuse_platform_principal(membership.user)
    changes = {}
    if role is not None and role != membership.role:
        if role not in Role.values:
            raise ValidationError({"role": f"Unknown role {role!r}; use one of {', '.join(Role.values)}."})
        if role != Role.ADMIN:
            _ensure_an_admin_remains(membership)
        changes["role"] = [membership.role, role]
        membership.role = role
        membership.save(update_fields=["role"])
    if teams is not None:
        changes["teams"] = sorted(team.slug for team in teams)
        _set_teams(membership, teams)
    if changes:
        audit.record(
            actor=actor, action="member.change", org=membership.org, target=membership, changes=changes, via=via
        )
    return membership


@transaction.atomic
def remove_member(*, actor, membership: Membership, via: str = "ui") -> None:
    org = membership.org
    if membership.user_id != actor.pk:
        require_role(actor, org, Role.ADMIN)
    _refuse_platform_principal(membership.user)
    _ensure_an_admin_remains(membership)
    audit.record(
        actor=actor,
        action="member.remove",
        org=org,
        target=membership,
        changes={"user": membership.user.get_username()},
        via=via,
    )
    Profile.objects.filter(user=membership.user, current_org=org).update(current_org=None)
    membership.delete()


# --- API tokens -------------------------------------------------------------------------


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def create_api_token(*, user, name: str, expires_in_days: int | None = None, via: str = "ui") -> tuple[ApiToken, str]:
    """Create a token; the returned key is the only time it is ever visible."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. the machine or script that uses it."})
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise ValidationError({"expires_in_days": "Choose between 1 and 3650 days, or no expiry."})
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=key[: len(TOKEN_PREFIX) + 6],
        key_hash=hash_token(key),
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    audit.record(actor=user, action="token.create", org=None, target=token, via=via)
    return token, key


@transaction.atomic
def revoke_api_token(*, user, token: ApiToken, via: str = "ui") -> ApiToken:
    if token.user_id != user.pk:
        raise PermissionDenied("You can only revoke your own tokens.")
    if token.revoked_at is None:
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        token.refresh_from_db()
        audit.record(actor=user, action="token.revoke", org=None, target=token, via=via)
    return token


def authenticate_token(key: str) -> ApiToken | None:
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(key)).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# --- operations -------------------------------------------------------------------------


def check_workers(*, actor, org: Organization, steps: int = 3, seconds: float = 0.5, via: str = "ui") -> Operation:
    """Start a 'worker check' operation that proves the workers are picking up work."""
    require_role(actor, org, Role.DEVELOPER)
    if not 1 <= steps <= 20 or not 0 <= seconds <= 30:
        raise ValidationError({"steps": "Use 1-20 steps of 0-30 seconds."})
    with transaction.atomic():
        op = operations.start_operation(
            org=org, kind="worker.check", target=org, params={"steps": steps, "seconds": seconds}, requested_by=actor
        )
        audit.record(actor=actor, action="operation.start", org=org, target=op, changes={"kind": op.kind}, via=via)
    return op


def cancel_operation(*, actor, operation: Operation, via: str = "ui") -> Operation:
    require_role(actor, operation.org, Role.DEVELOPER)
    if operation.is_terminal:
        raise ValidationError({"state": f"The operation has already {operation.get_state_display().lower()}."})
    with transaction.atomic():
        operations.cancel(operation)
        audit.record(actor=actor, action="operation.cancel", org=operation.org, target=operation, via=via)
    return operation
