from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "instances"

    def ready(self) -> None:
        from instances import handlers  # noqa: F401  (registers operation handlers)
