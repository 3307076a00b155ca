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


class BindForm(BootstrapMixin, forms.Form):
    app = forms.CharField(label="App", help_text="deployment/NAME or statefulset/NAME", max_length=300)
    namespace = forms.CharField(max_length=63, required=False, help_text="The app's namespace")
    name = forms.CharField(max_length=40, required=False, help_text="Binding name (default: the app's name)")
    cluster = forms.ModelChoiceField(
        queryset=Cluster.objects.none(),
        required=False,
        empty_label="Same as the instance",
        help_text="The app's cluster",
    )

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].queryset = Cluster.objects.filter(org=org)


class ShareForm(BootstrapMixin, forms.Form):
    target = forms.CharField(
        label="Share with", max_length=101, help_text="An organization slug (e.g. globex) or a team as ORG/TEAM"
    )


class UpdateForm(BootstrapMixin, forms.Form):
    plan = forms.ChoiceField(required=False)
    parameters = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "class": "font-monospace"}),
        help_text="YAML of the values to change, e.g. replicas: 3 (locked values belong to the plan)",
    )

    def __init__(self, *args, instance, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [(p.slug, p.name) for p in instance.type.plans.all()] or [("", "—")]
        self.initial.setdefault("plan", instance.plan.slug if instance.plan else "")

    def clean_parameters(self) -> dict:
        import yaml

        text = self.cleaned_data["parameters"].strip()
        if not text:
            return {}
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise forms.ValidationError(f"Not valid YAML: {exc}") from exc
        if not isinstance(values, dict):
            raise forms.ValidationError("Give a mapping of parameter names to values.")
        return values
