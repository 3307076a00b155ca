from __future__ import annotations

from rest_framework import serializers

from portal.models import (
    ApiToken,
    AuditEvent,
    Membership,
    Notification,
    Operation,
    OperationStep,
    Organization,
    Role,
    Team,
)


class OrganizationSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in this organization.")

    class Meta:
        model = Organization
        fields = ["slug", "name", "monthly_spend_limit", "currency", "created_at", "role"]
        read_only_fields = ["currency", "created_at", "role"]

    def get_role(self, org) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(org.pk)


class OrganizationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    monthly_spend_limit = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["slug", "name", "description"]


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    teams = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "email", "role", "teams", "created_at"]


class MembershipWriteSerializer(serializers.Serializer):
    user = serializers.CharField(required=False, help_text="Username or email (when adding).")
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    teams = serializers.ListField(child=serializers.SlugField(), required=False)


class OperationStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = OperationStep
        fields = ["id", "at", "level", "message", "attempt"]


class OperationSerializer(serializers.ModelSerializer):
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    target_type = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Operation
        fields = [
            "id",
            "org",
            "kind",
            "state",
            "target_type",
            "target_id",
            "target_repr",
            "params",
            "result",
            "error",
            "attempts",
            "max_attempts",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "url",
        ]

    def get_target_type(self, op) -> str | None:
        return f"{op.target_type.app_label}.{op.target_type.model}" if op.target_type_id else None

    def get_url(self, op) -> str:
        return op.get_absolute_url()


class OperationDetailSerializer(OperationSerializer):
    steps = OperationStepSerializer(many=True, read_only=True)

    class Meta(OperationSerializer.Meta):
        fields = OperationSerializer.Meta.fields + ["steps"]


class NotificationSerializer(serializers.ModelSerializer):
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "org", "title", "body", "url", "level", "created_at", "read_at", "read"]

    def get_read(self, note) -> bool:
        return note.read_at is not None


class AuditEventSerializer(serializers.ModelSerializer):
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    target_type = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "org",
            "actor_repr",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "changes",
            "via",
            "created_at",
        ]

    def get_target_type(self, event) -> str | None:
        return f"{event.target_type.app_label}.{event.target_type.model}" if event.target_type_id else None


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at", "is_active"]


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_in_days = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=3650)


class CheckWorkersSerializer(serializers.Serializer):
    steps = serializers.IntegerField(min_value=1, max_value=20, default=3)
    seconds = serializers.FloatField(min_value=0, max_value=30, default=0.5)
