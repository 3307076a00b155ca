"""Models of the catalog app (see ../shared/DESIGN.md, "Vocabulary").

* ``ServiceType``: what users deploy; owned by a team, shared by ``visibility``.
* ``TypeVersion``: a semver version of a type (manifests template, parameter schema, binding
  template, outputs). Drafts are editable; published versions are immutable (catalog.services
  refuses changes; a change is a new version).
* ``Plan``: a named preset of a type (fixed values, locked parameters).
* ``RegisteredService``: an existing service (a Kubernetes Service or host:port) with its
  tracked address.
"""

from __future__ import annotations

import semver
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from portal.crypto import EncryptedTextField
from portal.models import Organization, Team, slug_validator


class Visibility(models.TextChoices):
    TEAM = "team", "Owning team"
    ORG = "org", "Whole organization"
    ORGS = "orgs", "Named organizations"
    PUBLIC = "public", "Public (marketplace)"


VISIBILITY_ICONS = {"team": "lock", "org": "building", "orgs": "diagram-3", "public": "globe"}


def parse_semver(value: str) -> semver.Version:
    try:
        return semver.Version.parse(value)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{value!r} is not a semantic version such as 1.0.0 or 2.1.0-rc.1.") from exc


def validate_semver(value: str) -> None:
    parse_semver(value)


class ServiceType(models.Model):
    class Source(models.TextChoices):
        TEMPLATE = "template", "Template"
        BROKER = "broker", "Broker"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="service_types")
    owner_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="service_types")
    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    icon = models.CharField(
        max_length=40, default="box", help_text="A bootstrap-icons name, e.g. chat-dots, database, envelope."
    )
    tags = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.TEMPLATE)
    # Types synced from an OSB broker (source=broker): the offering's id; never deleted, only marked removed.
    broker = models.ForeignKey(
        "catalog.Broker", null=True, blank=True, on_delete=models.SET_NULL, related_name="service_types"
    )
    broker_service_id = models.CharField(max_length=255, blank=True)
    removed_from_broker = models.BooleanField(default=False)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.ORG)
    shared_with = models.ManyToManyField(Organization, blank=True, related_name="types_shared_with")
    # Servicebay as an OSB broker (osbapi/): offered in /osb/v2/catalog to the platforms that may see it.
    osb_enabled = models.BooleanField(default=False, help_text="Available to other platforms over OSB.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "slug"]
        indexes = [models.Index(fields=["visibility"], name="servicetype_visibility")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog-type", args=[self.slug])


class TypeVersion(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        DEPRECATED = "deprecated", "Deprecated"

    type = models.ForeignKey(ServiceType, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=64, validators=[validate_semver])
    # Sort keys derived from ``version`` (semver precedence, prereleases before their release).
    major = models.PositiveIntegerField(default=0, editable=False)
    minor = models.PositiveIntegerField(default=0, editable=False)
    patch = models.PositiveIntegerField(default=0, editable=False)
    is_release = models.BooleanField(default=True, editable=False)
    prerelease = models.CharField(max_length=64, blank=True, editable=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT, db_index=True)
    manifests_template = models.TextField(blank=True)
    parameter_schema = models.JSONField(default=dict, blank=True)
    binding_template = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=list, blank=True)
    changelog = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["type", "-major", "-minor", "-patch", "-is_release", "-prerelease"]
        constraints = [models.UniqueConstraint(fields=["type", "version"], name="typeversion_unique_per_type")]

    def __str__(self) -> str:
        return f"{self.type.slug} {self.version}" if self.type_id else self.version

    def save(self, *args, **kwargs):
        self.set_sort_keys()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("catalog-version", args=[self.type.slug, self.version])

    def set_sort_keys(self) -> None:
        try:
            parsed = semver.Version.parse(self.version)
        except (ValueError, TypeError):
            return
        self.major, self.minor, self.patch = parsed.major, parsed.minor, parsed.patch
        self.prerelease = parsed.prerelease or ""
        self.is_release = not parsed.prerelease

    @property
    def is_published(self) -> bool:
        return self.state != self.State.DRAFT

    @property
    def semver(self) -> semver.Version:
        return semver.Version.parse(self.version)


class Plan(models.Model):
    type = models.ForeignKey(ServiceType, on_delete=models.CASCADE, related_name="plans")
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    values = models.JSONField(default=dict, blank=True, help_text="Fixed parameter values of this plan.")
    locked = models.JSONField(default=list, blank=True, help_text="Parameters that deployers cannot change.")
    maintenance_info = models.JSONField(default=dict, blank=True)
    broker_plan_id = models.CharField(max_length=255, blank=True)
    maximum_polling_duration = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds a broker's asynchronous operation may be polled (from its catalog)."
    )
    removed_from_broker = models.BooleanField(default=False)
    order = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["type", "order", "slug"]
        constraints = [models.UniqueConstraint(fields=["type", "slug"], name="plan_unique_slug_per_type")]

    def __str__(self) -> str:
        return self.name


class Broker(models.Model):
    """An Open Service Broker (OSB API 2.17) whose offerings become service types (source=broker).

    ``org`` null: a global broker (staff only), its types are public; else its types belong to ``org``.
    Synced types are owned by ``owner_team``. The password or bearer token is stored encrypted.
    """

    class Auth(models.TextChoices):
        BASIC = "basic", "Basic (username + password)"
        BEARER = "bearer", "Bearer token"

    org = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="brokers")
    owner_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="brokers")
    name = models.CharField(max_length=30, unique=True, validators=[slug_validator])
    url = models.URLField(max_length=500)
    auth_kind = models.CharField(max_length=8, choices=Auth.choices, default=Auth.BASIC)
    username = models.CharField(max_length=200, blank=True)
    secret = EncryptedTextField(blank=True, help_text="The password (basic) or the token (bearer).")
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.TextField(blank=True)
    catalog_etag = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def sync_state(self) -> str:
        if self.last_sync_error:
            return "failed"
        return "ready" if self.last_sync_at else "pending"

    def client(self, timeout: float | None = None):
        """An ``osb.BrokerClient`` for this broker (close it, or use it as a context manager)."""
        import osb

        auth = osb.bearer(self.secret) if self.auth_kind == self.Auth.BEARER else osb.basic(self.username, self.secret)
        return osb.BrokerClient(self.url, auth=auth, timeout=timeout or getattr(settings, "BROKER_TIMEOUT_SECONDS", 60))


class RegisteredService(models.Model):
    """An existing service in the catalog (scenario 0); its address is tracked."""

    class Kind(models.TextChoices):
        KUBERNETES = "kubernetes", "Kubernetes Service"
        EXTERNAL = "external", "External host:port"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="registered_services")
    owner_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="registered_services")
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.EXTERNAL)
    cluster = models.ForeignKey(
        "instances.Cluster", null=True, blank=True, on_delete=models.PROTECT, related_name="registered_services"
    )
    namespace = models.CharField(max_length=63, blank=True)
    service_name = models.CharField(max_length=63, blank=True)
    host = models.CharField(max_length=253, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    current_host = models.CharField(max_length=253, blank=True)
    current_ports = models.JSONField(default=list, blank=True)
    address_updated_at = models.DateTimeField(null=True, blank=True)
    address_error = models.TextField(blank=True)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.ORG)
    shared_with = models.ManyToManyField(Organization, blank=True, related_name="services_shared_with")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "slug"]
        constraints = [models.UniqueConstraint(fields=["org", "slug"], name="registeredservice_unique_slug_per_org")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog-service", args=[self.org.slug, self.slug])

    @property
    def address(self) -> str:
        """``host:port`` (first port) or ``""`` when unknown."""
        if not self.current_host:
            return ""
        ports = [p.get("port") for p in self.current_ports if isinstance(p, dict) and p.get("port")]
        return f"{self.current_host}:{ports[0]}" if ports else self.current_host

    @property
    def address_state(self) -> str:
        if self.address_error:
            return "failed"
        return "ready" if self.current_host else "pending"
