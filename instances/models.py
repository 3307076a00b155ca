"""Models of the instances app: clusters, instances, bindings, shares."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from portal.crypto import EncryptedTextField
from portal.models import Organization, Team, slug_validator


class Cluster(models.Model):
    """A Kubernetes cluster Servicebay deploys into. The kubeconfig is stored encrypted."""

    class Access(models.TextChoices):
        KUBECONFIG = "kubeconfig", "Kubeconfig"
        IN_CLUSTER = "in_cluster", "In-cluster service account"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="clusters")
    name = models.CharField(max_length=50, validators=[slug_validator])
    description = models.CharField(max_length=200, blank=True)
    access = models.CharField(max_length=16, choices=Access.choices, default=Access.KUBECONFIG)
    kubeconfig = EncryptedTextField(blank=True)
    context = models.CharField(max_length=200, blank=True, help_text="Kubeconfig context (default: current)")
    default_namespace = models.CharField(max_length=63, default="default")
    reachable = models.BooleanField(null=True, blank=True)
    server_version = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["org__name", "name"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="cluster_unique_name_per_org")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("cluster-list") + f"#cluster-{self.pk}"

    @property
    def health_state(self) -> str:
        """One of the UI's states: ready / failed / pending (never checked)."""
        if self.reachable is None:
            return "pending"
        return "ready" if self.reachable and not self.last_error else "failed"

    def connect(self):
        """A connected ``kube.Kube`` for this cluster (no request is made yet)."""
        import kube

        return kube.connect(
            self.kubeconfig if self.access == self.Access.KUBECONFIG else None,
            in_cluster=self.access == self.Access.IN_CLUSTER,
            context=self.context or None,
            timeout=settings.KUBERNETES_TIMEOUT_SECONDS,
        )


dns_label_validator = RegexValidator(
    r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$",
    "Use 1-40 lowercase letters, digits and dashes, starting with a letter (it names Kubernetes objects).",
)


class Instance(models.Model):
    """A deployed ServiceType at a version and plan, in a cluster/namespace (or at a broker)."""

    class State(models.TextChoices):
        PROVISIONING = "provisioning", "Provisioning"
        READY = "ready", "Ready"
        UPDATING = "updating", "Updating"
        FAILED = "failed", "Failed"
        DEPROVISIONING = "deprovisioning", "Deprovisioning"
        DEPROVISIONED = "deprovisioned", "Deprovisioned"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="instances")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="instances")
    name = models.CharField(max_length=40, validators=[dns_label_validator])
    type = models.ForeignKey("catalog.ServiceType", on_delete=models.PROTECT, related_name="instances")
    version = models.ForeignKey("catalog.TypeVersion", on_delete=models.PROTECT, related_name="instances")
    plan = models.ForeignKey("catalog.Plan", null=True, blank=True, on_delete=models.PROTECT, related_name="instances")
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="instances")
    namespace = models.CharField(max_length=63, blank=True)
    parameters = models.JSONField(default=dict, blank=True, help_text="Non-secret parameter values.")
    secret_parameters = EncryptedTextField(blank=True, help_text="JSON of writeOnly parameter values.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PROVISIONING, db_index=True)
    status_message = models.TextField(blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    healthy = models.BooleanField(null=True, blank=True, help_text="Are all its live objects ready?")
    health_message = models.TextField(blank=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    resources = models.JSONField(default=list, blank=True, help_text="Refs of the objects applied for it.")
    abandoned = models.JSONField(default=list, blank=True, help_text="What --abandon left behind.")
    # Created over Servicebay's OSB broker API (osbapi/): the platform, its instance_id and its context.
    platform = models.ForeignKey(
        "osbapi.PlatformCredential", null=True, blank=True, on_delete=models.PROTECT, related_name="instances"
    )
    osb_instance_id = models.CharField(max_length=255, blank=True)
    osb_context = models.JSONField(default=dict, blank=True)
    osb_request_digest = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "name"],
                condition=~models.Q(state="deprovisioned"),
                name="instance_unique_live_name_per_org",
            ),
            models.UniqueConstraint(
                fields=["platform", "osb_instance_id"],
                condition=models.Q(platform__isnull=False) & ~models.Q(state="deprovisioned"),
                name="instance_unique_live_osb_id_per_platform",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("instance-detail", args=[self.pk])


class Binding(models.Model):
    """Credentials for one consumer app to use one instance (servicebinding.io Secret + projection)."""

    class State(models.TextChoices):
        CREATING = "creating", "Creating"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        DELETING = "deleting", "Deleting"
        DELETED = "deleted", "Deleted"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="bindings")
    org = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="bindings",
        help_text="The binder's organization (may differ for shared instances).",
    )
    name = models.CharField(max_length=40, validators=[dns_label_validator])
    app_cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    app_kind = models.CharField(max_length=32, blank=True)
    app_name = models.CharField(max_length=253, blank=True)
    app_namespace = models.CharField(max_length=63, blank=True)
    secret_name = models.CharField(max_length=253, blank=True)
    credentials = EncryptedTextField(blank=True)
    credentials_viewed_at = models.DateTimeField(null=True, blank=True)
    broker_details = models.JSONField(
        default=dict,
        blank=True,
        help_text="From a broker's bind: volume_mounts, syslog_drain_url, route_service_url, endpoints.",
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.CREATING, db_index=True)
    status_message = models.TextField(blank=True)
    # Created over Servicebay's OSB broker API: no app here; the credentials go to the platform only.
    platform = models.ForeignKey(
        "osbapi.PlatformCredential", null=True, blank=True, on_delete=models.PROTECT, related_name="bindings"
    )
    osb_binding_id = models.CharField(max_length=255, blank=True)
    osb_context = models.JSONField(default=dict, blank=True)
    osb_request_digest = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "name"],
                condition=~models.Q(state="deleted"),
                name="binding_unique_live_name_per_instance",
            ),
            models.UniqueConstraint(
                fields=["instance", "osb_binding_id"],
                condition=models.Q(platform__isnull=False) & ~models.Q(state="deleted"),
                name="binding_unique_live_osb_id_per_instance",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.instance.name}"


class InstanceShare(models.Model):
    """An instance shared with a team of its org or with another org (they may bind)."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="shares")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    org = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(team__isnull=False) ^ models.Q(org__isnull=False), name="instance_share_team_xor_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instance} shared with {self.team or self.org}"
