"""Forms of the instances app."""

from __future__ import annotations

from django import forms

from instances.models import Cluster
from portal.forms import BootstrapMixin


class ClusterForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=50, help_text="Lowercase letters, digits and dashes, e.g. prod-eu")
    description = forms.CharField(max_length=200, required=False)
    access = forms.ChoiceField(choices=Cluster.Access.choices, initial=Cluster.Access.KUBECONFIG)
    kubeconfig = forms.CharField(
        required=False,
        strip=False,
        max_length=256 * 1024,
        widget=forms.Textarea(attrs={"rows": 8, "class": "font-monospace", "spellcheck": "false"}),
        help_text="Stored encrypted; never shown again.",
    )
    context = forms.CharField(max_length=200, required=False, help_text="Leave empty for the current context")
    default_namespace = forms.CharField(max_length=63, initial="default")
