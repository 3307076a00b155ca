"""Celery tasks of the catalog app: thin, load by id and call a service."""
