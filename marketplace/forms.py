"""Forms of the marketplace app."""

from __future__ import annotations

from django import forms

from portal.models import Team


class BuyForm(forms.Form):
    plan = forms.CharField(widget=forms.HiddenInput)
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="(no team)", help_text="Whose spend this is."
    )

    def __init__(self, *args, org=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(org=org) if org else Team.objects.none()
        self.fields["team"].widget.attrs["class"] = "form-select form-select-sm"


class DecisionForm(forms.Form):
    comment = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"})
    )


class PaymentMethodForm(forms.Form):
    payment_method = forms.CharField(
        max_length=255,
        label="Payment method",
        help_text="A Stripe PaymentMethod id (pm_…) from Stripe.js; in test mode e.g. pm_card_visa.",
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "pm_…"}),
    )


class ListingForm(forms.Form):
    summary = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"class": "form-control"}))
    description = forms.CharField(
        required=False,
        help_text="Markdown (HTML is not allowed).",
        widget=forms.Textarea(attrs={"rows": 6, "class": "form-control font-monospace"}),
    )
    logo_url = forms.URLField(
        assume_scheme="https", required=False, label="Logo URL", widget=forms.URLInput(attrs={"class": "form-control"})
    )
    categories = forms.CharField(
        required=False,
        help_text="Comma-separated, e.g. database, postgresql",
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    documentation_url = forms.URLField(
        assume_scheme="https",
        required=False,
        label="Documentation URL",
        widget=forms.URLInput(attrs={"class": "form-control"}),
    )
    terms = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}))
    currency = forms.CharField(max_length=3, initial="usd", widget=forms.TextInput(attrs={"class": "form-control"}))

    def __init__(self, *args, plans=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.plan_fields = []
        for plan in plans:
            name = f"price_{plan.slug}"
            self.fields[name] = forms.DecimalField(
                min_value=0,
                decimal_places=2,
                label=f"{plan.name} ({plan.slug}) per month",
                help_text="0 for a free plan.",
                widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.01"}),
            )
            self.plan_fields.append(name)

    def prices(self) -> dict:
        return {name.removeprefix("price_"): self.cleaned_data[name] for name in self.plan_fields}
