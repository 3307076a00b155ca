"""Settings helpers and the system checks that name misconfiguration."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal import checks
from portal.env import env_bool, env_int, env_list, env_str


def test_env_helpers(monkeypatch, tmp_path):
    monkeypatch.setenv("SB_FLAG", "yes")
    assert env_bool("SB_FLAG") is True
    monkeypatch.setenv("SB_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SB_FLAG='maybe' is not a boolean"):
        env_bool("SB_FLAG")
    monkeypatch.setenv("SB_NUM", "12x")
    with pytest.raises(ImproperlyConfigured, match="SB_NUM='12x' is not a whole number"):
        env_int("SB_NUM", 1)
    monkeypatch.setenv("SB_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum of 1"):
        env_int("SB_NUM", 1, minimum=1)
    monkeypatch.setenv("SB_LIST", "a, b,,c")
    assert env_list("SB_LIST") == ["a", "b", "c"]
    assert env_str("SB_UNSET", "default") == "default"


def test_file_variant_for_secrets(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("SB_SECRET_FILE", str(secret))
    assert env_str("SB_SECRET") == "s3cret"
    monkeypatch.setenv("SB_SECRET", "inline")
    with pytest.raises(ImproperlyConfigured, match="either SB_SECRET or SB_SECRET_FILE"):
        env_str("SB_SECRET")
    monkeypatch.delenv("SB_SECRET")
    monkeypatch.setenv("SB_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_str("SB_SECRET")


def test_checks_name_the_problem(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = settings.DEV_SECRET_KEY
    assert [e.id for e in checks.check_secret_key(None)] == ["servicebay.E001"]
    settings.SITE_URL = "servicebay.local"
    settings.ALLOWED_HOSTS = []
    ids = [e.id for e in checks.check_urls(None)]
    assert ids == ["servicebay.E002", "servicebay.E004"]
    settings.OPERATION_HEARTBEAT_SECONDS, settings.OPERATION_STALE_SECONDS = 10, 15
    assert [w.id for w in checks.check_operation_timing(None)] == ["servicebay.W001"]


def test_production_defaults_are_safe(monkeypatch):
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "portal.settings", "SERVICEBAY_DATA_DIR": "/tmp/sb-check"}
    code = (
        "from django.conf import settings as s; import django; django.setup(); "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.ALLOWED_HOSTS, s.CELERY_BROKER_URL)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "True", "[]", "filesystem://"]
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "servicebay.E001" in result.stderr and "servicebay.E004" in result.stderr
