"""Stripe settings: all or nothing (system checks), secrets from files, and the spend page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from conftest import PASSWORD
from marketplace import services
from marketplace.checks import check_stripe
from marketplace.tests.conftest import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("key", "secret", "base", "ids"),
    [
        ("", "", "", []),
        ("sk_test_1", "whsec_1", "", []),
        ("sk_test_1", "", "", ["marketplace.E001"]),
        ("", "whsec_1", "", ["marketplace.E002"]),
        ("", "", "http://127.0.0.1:1", ["marketplace.E003"]),
    ],
)
def test_half_configured_stripe_is_an_error(settings, key, secret, base, ids):
    settings.STRIPE_API_KEY, settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_API_BASE = key, secret, base
    assert [e.id for e in check_stripe(None)] == ids


def test_keys_can_come_from_files(tmp_path):
    (tmp_path / "key").write_text("sk_test_from_file\n")
    (tmp_path / "secret").write_text("whsec_from_file\n")
    code = "from django.conf import settings; print(settings.STRIPE_API_KEY, settings.STRIPE_WEBHOOK_SECRET)"
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "STRIPE_API_KEY_FILE": str(tmp_path / "key"),
        "STRIPE_WEBHOOK_SECRET_FILE": str(tmp_path / "secret"),
        "SERVICEBAY_DATA_DIR": str(tmp_path),
    }
    argv = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert out.stdout.split() == ["sk_test_from_file", "whsec_from_file"], out.stderr


def test_spend_page_by_team_and_listing_with_pending_and_history(listing, org, team, owner, teammate):
    org.monthly_spend_limit = 30
    org.save()
    paid, op = services.request_purchase(actor=teammate, org=org, listing=listing, plan_slug="small", team=team)
    run(op)
    services.request_purchase(actor=teammate, org=org, listing=listing, plan_slug="large")  # waits
    web = Client()
    web.login(username="teammate", password=PASSWORD)
    page = web.get("/marketplace/spend/").content.decode()
    assert "20.00 USD" in page  # this month
    assert "Chat" in page and "Managed Postgres" in page  # by team, by listing
    assert "Pending approvals (1)" in page
    assert "purchase.auto_approve" in page and "purchase.paid" in page and "purchase.request" in page
