"""Celery tasks of the catalog app: thin, load by id and call a service."""

from __future__ import annotations

from celery import shared_task

from catalog import tracking


@shared_task(name="catalog.tasks.track_addresses")
def track_addresses() -> int:
    """List the Services behind registered services and record address changes (beat; a safety net
    for the watch that ``manage.py track_addresses`` keeps)."""
    return tracking.sync_all()


@shared_task(name="catalog.tasks.sync_brokers")
def sync_brokers() -> dict:
    """Fetch every broker's catalog and mirror it (beat, every BROKER_SYNC_SECONDS)."""
    from catalog import brokers

    return brokers.sync_all()
