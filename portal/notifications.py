"""Notifications: an in-app inbox for every recipient, plus email for those who want it.

Later features call ``notify``; email is sent by a Celery task after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.models import Notification, Organization, Profile


def notify(
    users: Iterable,
    *,
    title: str,
    body: str = "",
    url: str = "",
    org: Organization | None = None,
    level: str = "info",
) -> list[Notification]:
    recipients = {user.pk: user for user in users if user is not None}
    if not recipients:
        return []
    notes = Notification.objects.bulk_create(
        Notification(user_id=pk, org=org, title=title[:200], body=body, url=url, level=level) for pk in recipients
    )
    opted_out = set(
        Profile.objects.filter(user_id__in=recipients, email_notifications=False).values_list("user_id", flat=True)
    )
    emails = [u.email for pk, u in recipients.items() if pk not in opted_out and u.email]
    if emails:
        from portal.tasks import send_notification_email

        absolute = f"{settings.SITE_URL.rstrip('/')}{url}" if url.startswith("/") else url
        transaction.on_commit(lambda: send_notification_email.delay(emails, title, body, absolute))
    return notes


def unread_count(user) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def mark_read(user, ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())
