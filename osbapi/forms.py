from django import forms

from instances.models import Cluster


class PlatformForm(forms.Form):
    name = forms.SlugField(max_length=40, help_text="e.g. cloudfoundry-prod; the user name becomes ORG-NAME.")
    description = forms.CharField(max_length=200, required=False)
    cluster = forms.ModelChoiceField(
        queryset=Cluster.objects.none(), required=False, help_text="Where its instances deploy (default: the only one)."
    )
    namespace = forms.CharField(max_length=63, required=False, help_text="Default: the cluster's default namespace.")

    def __init__(self, *args, org=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].queryset = Cluster.objects.filter(org=org) if org else Cluster.objects.none()
        for field in self.fields.values():
            field.widget.attrs.setdefault(
                "class", "form-select" if isinstance(field, forms.ModelChoiceField) else "form-control"
            )
