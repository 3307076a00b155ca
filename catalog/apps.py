from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from django.conf import settings

        from catalog import brokers, handlers  # noqa: F401  (registers operation handlers)
        from portal.celery import app

        # The periodic list of registered Kubernetes services (a safety net for the watch that
        # `manage.py track_addresses` keeps); beat reads this when it starts.
        seconds = float(getattr(settings, "ADDRESS_SYNC_SECONDS", 60))
        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            "track registered service addresses": {"task": "catalog.tasks.track_addresses", "schedule": seconds},
            "sync broker catalogs": {"task": "catalog.tasks.sync_brokers", "schedule": brokers.sync_interval()},
        }
