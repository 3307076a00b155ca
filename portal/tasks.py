"""Celery tasks of the portal app: thin wrappers that call services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mass_mail

from portal import operations


@shared_task(name="portal.tasks.run_operation", acks_late=True)
def run_operation(operation_id: str) -> str:
    return operations.execute(operation_id)


@shared_task(name="portal.tasks.sweep_operations")
def sweep_operations() -> dict[str, int]:
    return operations.sweep()


@shared_task(name="portal.tasks.send_notification_email", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_notification_email(recipients: list[str], subject: str, body: str, url: str) -> None:
    text = f"{body}\n\n{url}".strip() if url else body
    subject = f"[{settings.SITE_NAME}] {subject}"
    # One message per recipient, so recipients never see each other's addresses.
    send_mass_mail([(subject, text, settings.DEFAULT_FROM_EMAIL, [to]) for to in recipients])
