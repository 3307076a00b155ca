from __future__ import annotations

from rest_framework import serializers

from instances.models import Binding, Cluster, Instance, InstanceShare


class ClusterSerializer(serializers.ModelSerializer):
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    health = serializers.CharField(source="health_state", read_only=True)

    class Meta:
        model = Cluster
        fields = [
            "id",
            "org",
            "name",
            "description",
            "access",
            "context",
            "default_namespace",
            "health",
            "reachable",
            "server_version",
            "last_error",
            "checked_at",
            "created_at",
        ]
        read_only_fields = fields


class ClusterCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    access = serializers.ChoiceField(choices=Cluster.Access.choices, default=Cluster.Access.KUBECONFIG)
    kubeconfig = serializers.CharField(
        required=False, default="", allow_blank=True, write_only=True, trim_whitespace=False, max_length=256 * 1024
    )
    context = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    default_namespace = serializers.CharField(max_length=63, required=False, default="default")


class InstanceSerializer(serializers.ModelSerializer):
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    type = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    version = serializers.CharField(source="version.version", read_only=True)
    plan = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Instance
        fields = [
            "id",
            "name",
            "org",
            "team",
            "type",
            "version",
            "plan",
            "cluster",
            "namespace",
            "state",
            "status_message",
            "outputs",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class InstanceDetailSerializer(InstanceSerializer):
    parameters = serializers.SerializerMethodField(help_text="Parameter values; secrets are masked.")
    resources = serializers.JSONField(read_only=True)
    abandoned = serializers.JSONField(read_only=True)

    class Meta(InstanceSerializer.Meta):
        fields = InstanceSerializer.Meta.fields + ["parameters", "resources", "abandoned"]

    def get_parameters(self, instance) -> dict:
        from instances.services import masked_parameters

        return masked_parameters(instance)


class SharedInstanceSerializer(serializers.ModelSerializer):
    """What a team or org an instance is shared with may see: enough to bind, nothing more."""

    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    type = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Instance
        fields = ["id", "name", "org", "type", "state"]
        read_only_fields = fields


class ProvisionSerializer(serializers.Serializer):
    type = serializers.SlugField(help_text="The service type's slug.")
    name = serializers.CharField(max_length=40)
    plan = serializers.SlugField(required=False, allow_blank=True, default="")
    version = serializers.CharField(required=False, allow_blank=True, default="")
    parameters = serializers.DictField(required=False, default=dict)
    cluster = serializers.CharField(required=False, allow_blank=True, default="", help_text="Cluster name")
    namespace = serializers.CharField(required=False, allow_blank=True, default="", max_length=63)


class UpdateSerializer(serializers.Serializer):
    plan = serializers.SlugField(required=False, allow_blank=True, default="")
    parameters = serializers.DictField(required=False, default=dict, help_text="Only the values to change.")


class BindSerializer(serializers.Serializer):
    app = serializers.CharField(help_text="deployment/NAME or statefulset/NAME")
    namespace = serializers.CharField(required=False, allow_blank=True, default="", max_length=63)
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    cluster = serializers.CharField(required=False, allow_blank=True, default="", help_text="The app's cluster")


class BindingSerializer(serializers.ModelSerializer):
    instance = serializers.SerializerMethodField()
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    app_cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    credentials = serializers.SerializerMethodField(help_text="Always masked; see POST …/credentials/ (once).")

    class Meta:
        model = Binding
        fields = [
            "id",
            "name",
            "instance",
            "org",
            "app_cluster",
            "app_kind",
            "app_name",
            "app_namespace",
            "secret_name",
            "state",
            "status_message",
            "credentials",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_instance(self, binding) -> dict:
        return {"id": str(binding.instance_id), "name": binding.instance.name}

    def get_credentials(self, binding) -> dict:
        from instances.services import masked_credentials

        return masked_credentials(binding)


class ShareSerializer(serializers.ModelSerializer):
    team = serializers.SerializerMethodField()
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = InstanceShare
        fields = ["id", "team", "org", "created_at"]

    def get_team(self, share) -> str | None:
        return f"{share.team.org.slug}/{share.team.slug}" if share.team_id else None


class ShareCreateSerializer(serializers.Serializer):
    org = serializers.SlugField(required=False, allow_blank=True, default="")
    team = serializers.CharField(required=False, allow_blank=True, default="", help_text="ORG/TEAM")
