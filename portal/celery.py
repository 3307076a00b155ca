"""The Celery application. Tasks are thin: they load a row by id and call a service."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("servicebay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_periodic_tasks(sender: Celery, **_: object) -> None:
    from django.conf import settings

    sender.add_periodic_task(
        float(settings.OPERATION_SWEEP_SECONDS),
        sender.signature("portal.tasks.sweep_operations"),
        name="sweep stale operations",
    )
    sender.add_periodic_task(
        float(settings.CLUSTER_CHECK_SECONDS),
        sender.signature("instances.tasks.check_clusters"),
        name="check cluster health",
    )
    sender.add_periodic_task(
        float(settings.INSTANCE_REFRESH_SECONDS),
        sender.signature("instances.tasks.refresh_instances"),
        name="refresh instance status",
    )
    # A safety net for the watch that `manage.py track_addresses` keeps on registered services.
    sender.add_periodic_task(
        float(settings.ADDRESS_SYNC_SECONDS),
        sender.signature("catalog.tasks.track_addresses"),
        name="track registered service addresses",
    )
    sender.add_periodic_task(
        float(settings.BROKER_SYNC_SECONDS),
        sender.signature("catalog.tasks.sync_brokers"),
        name="sync broker catalogs",
    )
