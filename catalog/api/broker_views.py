"""REST API of brokers (``/api/v1/brokers/``): thin views over catalog.brokers.

The password / token is write-only: it is accepted on create and never returned.
"""

from __future__ import annotations

from django.db.models import Q
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog import brokers
from catalog.api.views import org_for
from catalog.models import Broker
from portal.access import orgs_for_user
from portal.api.views import accepted, via_for
from portal.models import Team


class BrokerSerializer(serializers.ModelSerializer):
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    owner_team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    sync_state = serializers.CharField(read_only=True)
    types = serializers.SerializerMethodField()

    class Meta:
        model = Broker
        fields = [
            "id",
            "name",
            "org",
            "owner_team",
            "url",
            "auth_kind",
            "username",
            "sync_state",
            "last_sync_at",
            "last_sync_error",
            "types",
            "created_at",
        ]

    def get_types(self, broker) -> list[dict]:
        return [
            {"slug": t.slug, "name": t.name, "removed": t.removed_from_broker}
            for t in broker.service_types.all()  # prefetched
        ]


class BrokerWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=30)
    url = serializers.CharField(max_length=500)
    org = serializers.CharField(required=False, help_text="The organization (default: current); 'global' for staff")
    owner_team = serializers.CharField(required=False)
    auth_kind = serializers.ChoiceField(choices=Broker.Auth.choices, default=Broker.Auth.BASIC)
    username = serializers.CharField(required=False, allow_blank=True, default="")
    password = serializers.CharField(required=False, allow_blank=True, default="", write_only=True)
    token = serializers.CharField(required=False, allow_blank=True, default="", write_only=True)


def brokers_for_user(user):
    """Brokers of the user's organizations, and global ones."""
    return (
        Broker.objects.filter(Q(org__in=orgs_for_user(user)) | Q(org__isnull=True))
        .select_related("org", "owner_team")
        .prefetch_related("service_types")
        .order_by("name")
    )


class BrokerViewSet(viewsets.GenericViewSet):
    serializer_class = BrokerSerializer

    def get_queryset(self):
        return brokers_for_user(self.request.user)

    def get_object(self):
        try:
            return self.get_queryset().get(pk=int(self.kwargs["pk"]))
        except (Broker.DoesNotExist, ValueError, TypeError) as exc:
            raise Http404("No broker matches the given query.") from exc

    def list(self, request):
        """Brokers you can see (your organizations' and global ones) and how their last sync went."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=BrokerWriteSerializer, responses={201: BrokerSerializer})
    def create(self, request):
        """Register a broker (org admins; ``"org": "global"`` for staff); its catalog sync starts."""
        data = BrokerWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        org = None if v.get("org") == "global" else org_for(request, v.get("org"))
        team = None
        if v.get("owner_team"):
            slug = v["owner_team"]
            team_org, _, team_slug = slug.rpartition("/")
            qs = Team.objects.filter(slug=team_slug)
            qs = qs.filter(org__slug=team_org) if team_org else qs.filter(org=org)
            team = qs.first()
            if team is None:
                from django.core.exceptions import ValidationError

                raise ValidationError({"owner_team": f"No team {slug!r}."})
        broker, op = brokers.register_broker(
            actor=request.user,
            org=org,
            name=v["name"],
            url=v["url"],
            auth_kind=v["auth_kind"],
            username=v["username"],
            secret=v["token"] if v["auth_kind"] == Broker.Auth.BEARER else v["password"],
            owner_team=team,
            via=via_for(request),
        )
        body = self.get_serializer(self.get_queryset().get(pk=broker.pk)).data
        return Response({**body, "operation": str(op.pk)}, status=201)

    def destroy(self, request, pk=None):
        """Remove a broker (its types stay, marked removed); refused while instances use it."""
        brokers.remove_broker(actor=request.user, broker=self.get_object(), via=via_for(request))
        return Response(status=204)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Fetch the broker's catalog now (202 with the operation)."""
        return accepted(brokers.request_sync(actor=request.user, broker=self.get_object(), via=via_for(request)))
