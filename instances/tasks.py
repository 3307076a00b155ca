"""Celery tasks of the instances app: thin, load by id and call a service."""
