from django.apps import AppConfig


class OsbapiConfig(AppConfig):
    name = "osbapi"
    verbose_name = "OSB broker API"
