"""Celery tasks of the marketplace app: thin, load by id and call a service."""
