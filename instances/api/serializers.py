from __future__ import annotations

from rest_framework import serializers

from instances.models import Cluster


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
