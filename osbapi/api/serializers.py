from django.conf import settings
from rest_framework import serializers

from osbapi.models import PlatformCredential


class PlatformSerializer(serializers.ModelSerializer):
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    instances = serializers.SerializerMethodField(help_text="Live instances the platform created over OSB.")
    broker_url = serializers.SerializerMethodField(help_text="What the platform registers as the broker URL.")
    state = serializers.SerializerMethodField()

    class Meta:
        model = PlatformCredential
        fields = ["id", "name", "description", "username", "org", "cluster", "namespace", "state", "instances",
                  "broker_url", "created_by", "created_at", "last_used_at", "revoked_at"]  # fmt: skip

    def get_instances(self, obj) -> int:
        return getattr(obj, "instance_count", 0)

    def get_broker_url(self, obj) -> str:
        return f"{settings.SITE_URL.rstrip('/')}/osb"

    def get_state(self, obj) -> str:
        return "revoked" if obj.revoked_at else "active"


class PlatformCreateSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=40)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    cluster = serializers.CharField(max_length=50, required=False, allow_blank=True, help_text="A cluster's name.")
    namespace = serializers.CharField(max_length=63, required=False, allow_blank=True)
