"""REST API of platform credentials (/api/v1/platforms/): list, create (the secret is in the 201 answer
only), revoke. Every queryset goes through portal.access; writes through osbapi.services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from instances.models import Cluster, Instance
from osbapi import selectors, services
from osbapi.api.serializers import PlatformCreateSerializer, PlatformSerializer
from portal.access import get_object_for_user
from portal.api.views import via_for
from portal.current_org import current_membership


class PlatformViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = PlatformSerializer

    def get_queryset(self):
        live = Q(instances__isnull=False) & ~Q(instances__state=Instance.State.DEPROVISIONED)
        qs = (
            selectors.platforms_for_user(self.request.user)
            .annotate(instance_count=Count("instances", filter=live))
            .order_by("name", "pk")
        )
        membership = current_membership(self.request)
        return qs.filter(org=membership.org) if membership is not None else qs

    def get_object(self):
        return get_object_for_user(self.get_queryset(), self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=PlatformCreateSerializer, responses={201: dict})
    def create(self, request):
        """Credentials for a consuming platform (org admins); ``secret`` is returned this once."""
        data = PlatformCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = current_membership(request)
        if membership is None:
            raise Http404("You are not a member of that organization.")
        v = data.validated_data
        cluster = None
        if v.get("cluster"):
            cluster = Cluster.objects.filter(org=membership.org, name=v["cluster"]).first()
            if cluster is None:
                raise ValidationError({"cluster": f"No cluster called {v['cluster']!r} in {membership.org.name}."})
        credential, secret = services.create_platform_credential(
            actor=request.user,
            org=membership.org,
            name=v["name"],
            description=v.get("description", ""),
            cluster=cluster,
            namespace=v.get("namespace", ""),
            via=via_for(request),
        )
        body = {**PlatformSerializer(credential).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: PlatformSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """The platform can no longer call the broker API (org admins); its instances stay."""
        credential = services.revoke_platform_credential(
            actor=request.user, credential=self.get_object(), via=via_for(request)
        )
        return Response(PlatformSerializer(credential).data)
