from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"

    def ready(self) -> None:
        from marketplace import checks, handlers  # noqa: F401 (registers operation handlers and checks)
