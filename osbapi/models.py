"""Servicebay as an Open Service Broker (OSB API 2.17): the platforms that consume it.

A ``PlatformCredential`` is one consuming platform (Cloud Foundry, another Servicebay, …) of an org:
a basic-auth user name and a secret stored as a Django password hash (the secret is shown once).
Requests made with it act as the credential's *principal*, a Django user of its own that is a
developer member of the org and can never log in (no usable password, no API token): every OSB
call goes through the same service functions, role checks and audit trail as the UI.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from portal.models import Organization, slug_validator


class PlatformCredential(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="platform_credentials")
    name = models.CharField(max_length=40, validators=[slug_validator], help_text="e.g. cloudfoundry-prod")
    description = models.CharField(max_length=200, blank=True)
    username = models.CharField(max_length=150, unique=True, help_text="The basic-auth user name.")
    secret_hash = models.CharField(max_length=256)
    principal = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="platform_credential"
    )
    cluster = models.ForeignKey(
        "instances.Cluster",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Where its instances deploy (default: the org's only cluster).",
    )
    namespace = models.CharField(max_length=63, blank=True, help_text="Default: the cluster's default namespace.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["org__name", "name"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="platformcredential_unique_name_per_org")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("platform-list") + f"#platform-{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
