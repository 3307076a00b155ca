"""Models of the instances app: clusters (instances, bindings, rollouts… come with later work)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from portal.crypto import EncryptedTextField
from portal.models import Organization, slug_validator


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
