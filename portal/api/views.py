"""REST API of the portal app: thin views over portal.services and portal.access."""

from __future__ import annotations

import django_filters
from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import services
from portal.access import (
    get_object_for_user,
    get_org_for_user,
    memberships_for_user,
    orgs_for_user,
    people_of,
    scope_for_user,
)
from portal.api import serializers as s
from portal.current_org import current_membership
from portal.models import ApiToken, AuditEvent, Notification, Operation, OperationStep, Team
from portal.notifications import mark_read, unread_count


def via_for(request) -> str:
    return "cli" if request.META.get("HTTP_USER_AGENT", "").startswith("sbay/") else "api"


def accepted(operation: Operation) -> Response:
    """The answer to every call that starts work: 202 with the operation."""
    return Response(s.OperationSerializer(operation).data, status=status.HTTP_202_ACCEPTED)


class MeView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        membership = current_membership(request)
        memberships = memberships_for_user(request.user)
        return Response(
            {
                "username": request.user.get_username(),
                "email": request.user.email,
                "current_org": membership.org.slug if membership else None,
                "orgs": [{"slug": m.org.slug, "name": m.org.name, "role": m.role} for m in memberships],
                "unread_notifications": unread_count(request.user),
            }
        )


class OrganizationViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = s.OrganizationSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return orgs_for_user(self.request.user).order_by("name")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["roles"] = {m.org_id: m.role for m in memberships_for_user(self.request.user)}
        return context

    def get_object(self):
        return get_org_for_user(self.request.user, self.kwargs["slug"])

    @extend_schema(request=s.OrganizationUpdateSerializer, responses=s.OrganizationSerializer)
    def partial_update(self, request, slug=None):
        org = self.get_object()
        data = s.OrganizationUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = services.update_org_settings(actor=request.user, org=org, via=via_for(request), **data.validated_data)
        return Response(self.get_serializer(org).data)

    @extend_schema(request=None, responses=s.OrganizationSerializer)
    @action(detail=True, methods=["post"])
    def switch(self, request, slug=None):
        """Make this the current organization of the user (for the browser; the CLI keeps its own)."""
        org = self.get_object()
        services.switch_org(request.user, org)
        return Response(self.get_serializer(org).data)

    @extend_schema(request=s.CheckWorkersSerializer, responses={202: s.OperationSerializer})
    @action(detail=True, methods=["post"], url_path="check-workers")
    def check_workers(self, request, slug=None):
        """Start a 'worker check' operation (202 with the operation)."""
        org = self.get_object()
        data = s.CheckWorkersSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return accepted(
            services.check_workers(actor=request.user, org=org, via=via_for(request), **data.validated_data)
        )


class TeamViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.CreateModelMixin):
    serializer_class = s.TeamSerializer

    def get_queryset(self):
        org = get_org_for_user(self.request.user, self.kwargs["org_slug"])
        return Team.objects.filter(org=org)

    def create(self, request, org_slug=None):
        org = get_org_for_user(request.user, org_slug)
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = services.create_team(actor=request.user, org=org, via=via_for(request), **data.validated_data)
        return Response(self.get_serializer(team).data, status=status.HTTP_201_CREATED)


class MemberViewSet(viewsets.GenericViewSet):
    serializer_class = s.MembershipSerializer
    lookup_field = "username"
    lookup_value_regex = r"[\w.@+-]+"

    def get_queryset(self):
        org = get_org_for_user(self.request.user, self.kwargs["org_slug"])
        return people_of(org).select_related("user").prefetch_related("teams")

    def _teams(self, org, slugs):
        if slugs is None:
            return None
        teams = list(Team.objects.filter(org=org, slug__in=slugs))
        missing = set(slugs) - {t.slug for t in teams}
        if missing:
            from django.core.exceptions import ValidationError

            raise ValidationError({"teams": f"Unknown team(s): {', '.join(sorted(missing))}."})
        return teams

    def list(self, request, org_slug=None):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=s.MembershipWriteSerializer)
    def create(self, request, org_slug=None):
        org = get_org_for_user(request.user, org_slug)
        data = s.MembershipWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if not v.get("user"):
            from django.core.exceptions import ValidationError

            raise ValidationError({"user": "This field is required."})
        membership = services.add_member(
            actor=request.user,
            org=org,
            user_identifier=v["user"],
            role=v.get("role", "developer"),
            teams=self._teams(org, v.get("teams")),
            via=via_for(request),
        )
        return Response(self.get_serializer(membership).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, org_slug=None, username=None):
        membership = get_object_or_404(self.get_queryset(), user__username=username)
        return Response(self.get_serializer(membership).data)

    @extend_schema(request=s.MembershipWriteSerializer)
    def partial_update(self, request, org_slug=None, username=None):
        membership = get_object_or_404(self.get_queryset(), user__username=username)
        data = s.MembershipWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        membership = services.change_member(
            actor=request.user,
            membership=membership,
            role=v.get("role"),
            teams=self._teams(membership.org, v.get("teams")),
            via=via_for(request),
        )
        return Response(self.get_serializer(membership).data)

    def destroy(self, request, org_slug=None, username=None):
        membership = get_object_or_404(self.get_queryset(), user__username=username)
        services.remove_member(actor=request.user, membership=membership, via=via_for(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OperationFilter(django_filters.FilterSet):
    org = django_filters.CharFilter(field_name="org__slug")
    target_type = django_filters.CharFilter(method="filter_target_type")

    class Meta:
        model = Operation
        fields = ["state", "kind", "org", "target_id"]

    def filter_target_type(self, queryset, name, value):
        app_label, _, model = value.partition(".")
        ct = ContentType.objects.filter(app_label=app_label, model=model).first()
        return queryset.filter(target_type=ct) if ct else queryset.none()


class OperationViewSet(viewsets.ReadOnlyModelViewSet):
    filterset_class = OperationFilter

    def get_queryset(self):
        qs = scope_for_user(Operation.objects.all(), self.request.user).select_related(
            "org", "requested_by", "target_type"
        )
        if self.action == "retrieve":
            qs = qs.prefetch_related(Prefetch("steps", queryset=OperationStep.objects.order_by("id")))
        return qs

    def get_serializer_class(self):
        return s.OperationDetailSerializer if self.action == "retrieve" else s.OperationSerializer

    def get_object(self):
        return get_object_for_user(self.get_queryset(), self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=None, responses=s.OperationSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        operation = services.cancel_operation(actor=request.user, operation=self.get_object(), via=via_for(request))
        return Response(s.OperationSerializer(operation).data)


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.NotificationSerializer
    filterset_fields = {"read_at": ["isnull"]}

    def get_queryset(self):
        return Notification.objects.filter(user=self.request.user).select_related("org")

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        note = self.get_object()
        mark_read(request.user, [note.pk])
        return Response({"unread": unread_count(request.user)})

    @extend_schema(request=None, responses={200: dict})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        mark_read(request.user)
        return Response({"unread": 0})


class AuditEventFilter(django_filters.FilterSet):
    org = django_filters.CharFilter(field_name="org__slug")

    class Meta:
        model = AuditEvent
        fields = ["org", "action", "target_id", "via"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.AuditEventSerializer
    filterset_class = AuditEventFilter

    def get_queryset(self):
        return scope_for_user(AuditEvent.objects.all(), self.request.user).select_related("org", "target_type")


class ApiTokenViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = s.ApiTokenSerializer

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=s.ApiTokenCreateSerializer, responses={201: dict})
    def create(self, request):
        """Create a token. The key is in this response only; it cannot be shown again."""
        data = s.ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = services.create_api_token(user=request.user, via=via_for(request), **data.validated_data)
        return Response({**s.ApiTokenSerializer(token).data, "key": key}, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        """Revoke a token (it stays listed, marked revoked)."""
        services.revoke_api_token(user=request.user, token=self.get_object(), via=via_for(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
