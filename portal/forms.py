from __future__ import annotations

from django import forms

from portal.models import Organization, Role, Team


class BootstrapMixin:
    """Give every widget Bootstrap's classes, and mark invalid fields."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class OrgSettingsForm(BootstrapMixin, forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "monthly_spend_limit"]
        labels = {"monthly_spend_limit": "Monthly self-approval spend limit"}


class AddMemberForm(BootstrapMixin, forms.Form):
    user = forms.CharField(label="Username or email", max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.DEVELOPER)
    teams = forms.ModelMultipleChoiceField(queryset=Team.objects.none(), required=False)

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["teams"].queryset = Team.objects.filter(org=org)


class ChangeRoleForm(BootstrapMixin, forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TeamForm(BootstrapMixin, forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "slug", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class ApiTokenForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=100, help_text="e.g. the laptop or CI job that uses it")
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=3650, required=False, help_text="Leave empty for a token that does not expire."
    )


class NotificationPreferencesForm(BootstrapMixin, forms.Form):
    email_notifications = forms.BooleanField(required=False, label="Also send my notifications by email")
