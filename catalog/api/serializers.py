from __future__ import annotations

from rest_framework import serializers

from catalog import schema as sch
from catalog.models import Plan, RegisteredService, ServiceType, TypeVersion, Visibility
from catalog.selectors import latest_live


def cli_command(type_: ServiceType, plan: str | None = None) -> str:
    plan = plan or next((p.slug for p in getattr(type_, "plan_list", [])), None)
    return f"sbay provision {type_.slug} NAME" + (f" --plan {plan}" if plan else "")


class TypeSerializer(serializers.ModelSerializer):
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    owner_team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    shared_with = serializers.SerializerMethodField()
    latest_version = serializers.SerializerMethodField(help_text="The newest published version.")
    versions = serializers.SerializerMethodField(help_text="Published and deprecated versions, newest first.")
    plans = serializers.SerializerMethodField()
    is_owner = serializers.SerializerMethodField(help_text="You are in the owning team or an admin of its org.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = ServiceType
        fields = [
            "slug",
            "name",
            "description",
            "icon",
            "tags",
            "source",
            "visibility",
            "osb_enabled",
            "org",
            "owner_team",
            "shared_with",
            "latest_version",
            "versions",
            "plans",
            "is_owner",
            "created_at",
            "updated_at",
            "url",
        ]

    def get_shared_with(self, obj) -> list[str]:
        return [o.slug for o in getattr(obj, "shared_list", obj.shared_with.all())]

    def get_latest_version(self, obj) -> str | None:
        version = latest_live(obj)
        return version.version if version else None

    def get_versions(self, obj) -> list[str]:
        return [v.version for v in getattr(obj, "live_versions", [])]

    def get_plans(self, obj) -> list[str]:
        return [p.slug for p in getattr(obj, "plan_list", [])]

    def get_is_owner(self, obj) -> bool:
        ownership = self.context.get("ownership")
        return bool(ownership and ownership.owns(obj))

    def get_url(self, obj) -> str:
        return obj.get_absolute_url()


class VersionSummarySerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TypeVersion
        fields = ["version", "state", "changelog", "created_by", "created_at", "published_at"]


class VersionSerializer(VersionSummarySerializer):
    type = serializers.SerializerMethodField()

    class Meta(VersionSummarySerializer.Meta):
        fields = [
            "type",
            *VersionSummarySerializer.Meta.fields,
            "manifests_template",
            "parameter_schema",
            "binding_template",
            "outputs",
        ]

    def get_type(self, obj) -> str:
        return obj.type.slug


class VersionWriteSerializer(serializers.Serializer):
    version = serializers.CharField(max_length=64, required=False)
    copy_from = serializers.CharField(max_length=64, required=False, help_text="Start from this version's content.")
    manifests_template = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    parameter_schema = serializers.JSONField(required=False)
    binding_template = serializers.JSONField(required=False)
    outputs = serializers.JSONField(required=False)
    changelog = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class PlanSerializer(serializers.ModelSerializer):
    values = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = ["slug", "name", "description", "values", "locked", "maintenance_info", "order"]

    def get_values(self, plan) -> dict:
        version = self.context.get("schema_version")
        if version is None or self.context.get("is_owner"):
            return plan.values
        return sch.mask(version.parameter_schema or {}, plan.values)


class PlanWriteSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=50, required=False)
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    values = serializers.JSONField(required=False)
    locked = serializers.JSONField(required=False)
    maintenance_info = serializers.JSONField(required=False)
    order = serializers.IntegerField(required=False)


class TypeDetailSerializer(TypeSerializer):
    version_list = serializers.SerializerMethodField()
    plan_list = serializers.SerializerMethodField()
    cli_command = serializers.SerializerMethodField()

    class Meta(TypeSerializer.Meta):
        fields = [*TypeSerializer.Meta.fields, "version_list", "plan_list", "cli_command"]

    def get_versions(self, obj) -> list[str]:
        return [v.version for v in obj.version_list if v.state != TypeVersion.State.DRAFT]

    def get_latest_version(self, obj) -> str | None:
        published = [v for v in obj.version_list if v.state == TypeVersion.State.PUBLISHED]
        return published[0].version if published else None

    def get_version_list(self, obj) -> list[dict]:
        return VersionSummarySerializer(obj.version_list, many=True).data

    def get_plan_list(self, obj) -> list[dict]:
        published = [v for v in obj.version_list if v.state == TypeVersion.State.PUBLISHED]
        context = {"schema_version": published[0] if published else None, "is_owner": self.get_is_owner(obj)}
        return PlanSerializer(obj.plan_list, many=True, context=context).data

    def get_cli_command(self, obj) -> str:
        return cli_command(obj)


class TypeWriteSerializer(serializers.Serializer):
    org = serializers.CharField(required=False, help_text="Organization slug (default: your current one).")
    owner_team = serializers.CharField(required=False, help_text="Team slug (default: your only team).")
    slug = serializers.CharField(max_length=50, required=False)
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    icon = serializers.CharField(max_length=40, required=False)
    tags = serializers.JSONField(required=False)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    shared_with = serializers.ListField(child=serializers.CharField(), required=False)


class OsbToggleSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="Offer the type to other platforms over the OSB broker API.")


class ValidateSerializer(serializers.Serializer):
    parameters = serializers.JSONField(required=False, default=dict)
    plan = serializers.CharField(required=False, allow_blank=True)
    version = serializers.CharField(required=False, allow_blank=True)


class RenderSerializer(ValidateSerializer):
    instance_name = serializers.CharField(required=False, default="preview")
    namespace = serializers.CharField(required=False, default="default")


class ImportSourceSerializer(serializers.Serializer):
    yaml = serializers.CharField(required=False, allow_blank=False, trim_whitespace=False)
    cluster = serializers.CharField(required=False)
    namespace = serializers.CharField(required=False)
    service = serializers.CharField(required=False, allow_blank=True)
    deployment = serializers.CharField(required=False, allow_blank=True)
    selector = serializers.CharField(required=False, allow_blank=True)
    base_name = serializers.CharField(required=False, allow_blank=True)


class ImportSerializer(ImportSourceSerializer, TypeWriteSerializer):
    parameters = serializers.JSONField(
        required=False, help_text="Chosen parameters: names or {name, minimum, maximum, enum, pattern, …}."
    )


class RegisteredServiceSerializer(serializers.ModelSerializer):
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    owner_team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    shared_with = serializers.SerializerMethodField()
    address = serializers.CharField(read_only=True)
    address_state = serializers.CharField(read_only=True)

    class Meta:
        model = RegisteredService
        fields = [
            "id",
            "org",
            "slug",
            "name",
            "description",
            "kind",
            "owner_team",
            "cluster",
            "namespace",
            "service_name",
            "host",
            "port",
            "address",
            "current_host",
            "current_ports",
            "address_updated_at",
            "address_error",
            "address_state",
            "visibility",
            "shared_with",
            "created_at",
        ]

    def get_shared_with(self, obj) -> list[str]:
        return [o.slug for o in getattr(obj, "shared_list", obj.shared_with.all())]


class RegisteredServiceWriteSerializer(serializers.Serializer):
    org = serializers.CharField(required=False)
    owner_team = serializers.CharField(required=False)
    slug = serializers.CharField(max_length=50, required=False)
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=RegisteredService.Kind.choices, required=False)
    cluster = serializers.CharField(required=False)
    namespace = serializers.CharField(required=False, allow_blank=True)
    service_name = serializers.CharField(required=False, allow_blank=True)
    host = serializers.CharField(required=False, allow_blank=True)
    port = serializers.IntegerField(required=False, allow_null=True)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    shared_with = serializers.ListField(child=serializers.CharField(), required=False)
