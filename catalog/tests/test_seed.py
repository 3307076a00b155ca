"""The demo data: `manage.py seed_catalog` after `seed_demo`, idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Plan, ServiceType, TypeVersion
from catalog.parameters import validate_parameters
from portal.models import AuditEvent


def test_seed_catalog_is_idempotent(db):
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("seed_catalog", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command("seed_catalog", stdout=out)
    assert "type chat 1.0.0" in out.getvalue()
    events = AuditEvent.objects.count()
    call_command("seed_catalog", stdout=StringIO())
    assert AuditEvent.objects.count() == events
    chat = ServiceType.objects.get(slug="chat")
    assert chat.owner_team.slug == "chat" and chat.org.slug == "acme"
    version = TypeVersion.objects.get(type=chat)
    assert version.version == "1.0.0" and version.state == "published"
    assert list(Plan.objects.filter(type=chat).values_list("slug", flat=True)) == ["small", "large"]
    values = validate_parameters(version, chat.plans.get(slug="large"), {"admin_password": "a-very-long-secret"})
    assert values["replicas"] == 3
