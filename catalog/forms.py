"""Forms of the catalog app (the deploy form is generated: see catalog.schemaform)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from django import forms

from catalog.importer import MAX_UPLOAD_BYTES
from catalog.models import Broker, RegisteredService, Visibility
from catalog.rendering import RenderError, load_documents
from portal.forms import BootstrapMixin
from portal.models import Organization, Team

MONO = {"class": "font-monospace", "spellcheck": "false"}


def parse_structured(text: str, *, what: str, expect: type, max_bytes: int = 256 * 1024) -> Any:
    """JSON or YAML text (one document, no aliases) as ``expect``; forms.ValidationError otherwise."""
    text = (text or "").strip()
    if not text:
        return expect()
    if len(text.encode()) > max_bytes:
        raise forms.ValidationError(f"The {what} is larger than {max_bytes // 1024} KiB.")
    try:
        value = json.loads(text)
    except ValueError:
        try:
            documents = load_documents(text, max_bytes=max_bytes)
        except RenderError as exc:
            raise forms.ValidationError(
                f"The {what} is neither JSON nor YAML: {exc.describe().replace(' of the rendered output', '')}"
            ) from exc
        if len(documents) > 1:
            raise forms.ValidationError(f"The {what} must be one document.")
        value = documents[0][2] if documents else expect()
    if not isinstance(value, expect):
        raise forms.ValidationError(f"The {what} must be {'an object' if expect is dict else 'a list'}.")
    return value


def dump_structured(value: Any) -> str:
    if value in (None, {}, []):
        return ""
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)


class OrgSlugsField(forms.CharField):
    """Organization slugs, comma or space separated."""

    def clean(self, value):
        value = super().clean(value)
        slugs = [s for s in value.replace(",", " ").split() if s]
        if not slugs:
            return []
        orgs = list(Organization.objects.filter(slug__in=slugs))
        missing = sorted(set(slugs) - {o.slug for o in orgs})
        if missing:
            raise forms.ValidationError(f"Unknown organization(s): {', '.join(missing)}.")
        return orgs


class TypeForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=100)
    slug = forms.CharField(
        max_length=50, help_text="Lowercase letters, digits and dashes; unique in Servicebay; cannot change later."
    )
    owner_team = forms.ModelChoiceField(queryset=Team.objects.none(), label="Owning team", empty_label=None)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    icon = forms.CharField(
        max_length=40, initial="box", help_text="A bootstrap-icons name: chat-dots, database, envelope, …"
    )
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. chat, nodejs, websocket")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.ORG)
    shared_with = OrgSlugsField(
        required=False, label="Share with organizations", help_text='Organization slugs, for visibility "orgs".'
    )

    def __init__(self, *args, teams=None, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_team"].queryset = teams if teams is not None else Team.objects.none()
        if editing:
            del self.fields["slug"]

    def clean_tags(self):
        return [t for t in self.cleaned_data["tags"].replace(",", " ").split() if t]


class SharingForm(BootstrapMixin, forms.Form):
    visibility = forms.ChoiceField(choices=Visibility.choices)
    shared_with = OrgSlugsField(
        required=False, label="Share with organizations", help_text='Organization slugs, for visibility "orgs".'
    )


class VersionForm(BootstrapMixin, forms.Form):
    version = forms.CharField(max_length=64, help_text="Semantic version, e.g. 1.1.0 or 2.0.0-rc.1")
    changelog = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    manifests_template = forms.CharField(
        widget=forms.Textarea(attrs={**MONO, "rows": 22}),
        required=False,
        strip=False,
        help_text="Multi-document YAML with Jinja2: {{ parameters.replicas }}, {{ instance.name }}, "
        "{{ instance.namespace }}, {{ labels }}. Every object name must contain {{ instance.name }}.",
    )
    parameter_schema = forms.CharField(
        widget=forms.Textarea(attrs={**MONO, "rows": 18}),
        required=False,
        help_text="JSON Schema (JSON or YAML): type, default, minimum/maximum, enum, pattern, format, required, "
        "writeOnly for secrets; x-order and x-widget for the form.",
    )
    binding_template = forms.CharField(
        widget=forms.Textarea(attrs={**MONO, "rows": 5}),
        required=False,
        help_text='What a bind returns, e.g. host: "{{ outputs.host }}", password: {generate: password, length: 24}',
    )
    outputs = forms.CharField(
        widget=forms.Textarea(attrs={**MONO, "rows": 6}),
        required=False,
        help_text="Values read from live objects: - {name: port, from: {kind: Service, name_template: "
        "'{{ instance.name }}', jsonpath: .spec.ports[0].port}}",
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["version"]

    def clean_parameter_schema(self):
        return parse_structured(self.cleaned_data["parameter_schema"], what="parameter schema", expect=dict)

    def clean_binding_template(self):
        return parse_structured(self.cleaned_data["binding_template"], what="binding template", expect=dict)

    def clean_outputs(self):
        return parse_structured(self.cleaned_data["outputs"], what="outputs", expect=list)


class PlanForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=100)
    slug = forms.CharField(max_length=50, help_text="e.g. small, large; cannot change later.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    values = forms.CharField(
        widget=forms.Textarea(attrs={**MONO, "rows": 6}),
        required=False,
        help_text="Parameter values of this plan (YAML or JSON), e.g. replicas: 3",
    )
    locked = forms.CharField(
        required=False, help_text="Parameters deployers cannot change, comma-separated (e.g. replicas, resources)."
    )
    order = forms.IntegerField(initial=0, required=False)

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["slug"]

    def clean_values(self):
        return parse_structured(self.cleaned_data["values"], what="plan values", expect=dict, max_bytes=64 * 1024)

    def clean_locked(self):
        return [name for name in self.cleaned_data["locked"].replace(",", " ").split() if name]


class ImportSourceForm(BootstrapMixin, forms.Form):
    yaml_file = forms.FileField(required=False, label="YAML file", help_text="kubectl get … -o yaml output; 1 MiB max.")
    yaml_text = forms.CharField(
        widget=forms.Textarea(attrs={**MONO, "rows": 8}), required=False, strip=False, label="…or paste YAML"
    )

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("yaml_file")
        if upload is not None:
            if upload.size > MAX_UPLOAD_BYTES:
                raise forms.ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // 1024} KiB.")
            cleaned["yaml"] = upload.read(MAX_UPLOAD_BYTES + 1)
        elif cleaned.get("yaml_text", "").strip():
            cleaned["yaml"] = cleaned["yaml_text"]
        else:
            raise forms.ValidationError("Upload a YAML file or paste the objects.")
        return cleaned


class ClusterSourceForm(BootstrapMixin, forms.Form):
    cluster = forms.ModelChoiceField(queryset=None, empty_label=None)
    namespace = forms.CharField(max_length=63, initial="default")
    what = forms.ChoiceField(
        choices=[("service", "Service"), ("deployment", "Deployment"), ("selector", "Label selector")],
        label="Start from",
    )
    name = forms.CharField(max_length=253, label="Name or selector", help_text="e.g. chat, or app=chat")

    def __init__(self, *args, clusters=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].queryset = clusters


class RegisteredServiceForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=100)
    slug = forms.CharField(max_length=50)
    owner_team = forms.ModelChoiceField(queryset=Team.objects.none(), label="Owning team", empty_label=None)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    kind = forms.ChoiceField(choices=RegisteredService.Kind.choices, widget=forms.RadioSelect)
    cluster = forms.ModelChoiceField(queryset=None, required=False)
    namespace = forms.CharField(max_length=63, required=False)
    service_name = forms.CharField(max_length=63, required=False, label="Service name")
    host = forms.CharField(max_length=253, required=False)
    port = forms.IntegerField(min_value=1, max_value=65535, required=False)
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.ORG)
    shared_with = OrgSlugsField(required=False, label="Share with organizations")

    def __init__(self, *args, teams=None, clusters=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_team"].queryset = teams if teams is not None else Team.objects.none()
        self.fields["cluster"].queryset = clusters
        self.fields["kind"].widget.attrs["class"] = "form-check-input"


class BrokerForm(BootstrapMixin, forms.Form):
    """Register an OSB broker; errors of ``catalog.brokers.register_broker`` land next to the fields."""

    SCOPES = [("org", "This organization"), ("global", "Global (every organization; staff only)")]

    name = forms.CharField(max_length=30, help_text="Lowercase letters, digits and dashes; prefixes its types.")
    url = forms.URLField(max_length=500, label="URL", assume_scheme="https")
    auth_kind = forms.ChoiceField(choices=Broker.Auth.choices, initial=Broker.Auth.BASIC, label="Authentication")
    username = forms.CharField(max_length=200, required=False, help_text="For basic authentication.")
    secret = forms.CharField(
        required=False,
        label="Password or token",
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted; never shown again.",
    )
    scope = forms.ChoiceField(choices=SCOPES, initial="org")
    owner_team = forms.ModelChoiceField(
        queryset=Team.objects.none(), label="Team that owns its types", required=False, empty_label="(first team)"
    )

    def __init__(self, *args, teams=None, allow_global: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_team"].queryset = teams if teams is not None else Team.objects.none()
        if not allow_global:
            self.fields["scope"].choices = self.SCOPES[:1]
