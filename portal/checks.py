"""System checks that name what is misconfigured (run by `manage.py check` and at start-up)."""

from __future__ import annotations

from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=False)
def check_secret_key(app_configs, **kwargs):
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is the development default while DEBUG is off.",
                hint="Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value, or DEBUG=1 for development.",
                id="servicebay.E001",
            )
        ]
    return []


@register()
def check_urls(app_configs, **kwargs):
    problems = []
    site = urlparse(settings.SITE_URL or "")
    if site.scheme not in {"http", "https"} or not site.netloc:
        problems.append(
            Error(
                f"SITE_URL={settings.SITE_URL!r} is not an absolute http(s) URL.",
                hint="Set SITE_URL to the address users reach Servicebay at, e.g. https://servicebay.example.com",
                id="servicebay.E002",
            )
        )
    broker = urlparse(settings.CELERY_BROKER_URL)
    if broker.scheme not in {"redis", "rediss", "filesystem"}:
        problems.append(
            Error(
                f"REDIS_URL={settings.REDIS_URL!r} is not a redis:// or rediss:// URL.",
                hint="Unset REDIS_URL to use the embedded queue, or point it at Redis.",
                id="servicebay.E003",
            )
        )
    if not settings.DEBUG and not settings.ALLOWED_HOSTS:
        problems.append(
            Error(
                "ALLOWED_HOSTS is empty while DEBUG is off.",
                hint="Set ALLOWED_HOSTS to a comma-separated list of host names.",
                id="servicebay.E004",
            )
        )
    return problems


@register()
def check_operation_timing(app_configs, **kwargs):
    if settings.OPERATION_STALE_SECONDS <= 2 * settings.OPERATION_HEARTBEAT_SECONDS:
        return [
            Warning(
                "OPERATION_STALE_SECONDS is not more than twice OPERATION_HEARTBEAT_SECONDS.",
                hint="Live operations could be taken for lost and run twice; raise OPERATION_STALE_SECONDS.",
                id="servicebay.W001",
            )
        ]
    return []
