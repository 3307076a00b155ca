"""REST API of the instances app."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from instances import services
from instances.api.serializers import ClusterCreateSerializer, ClusterSerializer
from instances.models import Cluster
from portal.access import get_object_for_user, scope_for_user
from portal.api.serializers import OperationSerializer
from portal.api.views import accepted, via_for
from portal.current_org import current_membership


class ClusterFilter(django_filters.FilterSet):
    org = django_filters.CharFilter(field_name="org__slug")

    class Meta:
        model = Cluster
        fields = ["org", "name"]


class ClusterViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = ClusterSerializer
    filterset_class = ClusterFilter

    def get_queryset(self):
        return scope_for_user(Cluster.objects.all(), self.request.user).select_related("org")

    def get_object(self):
        return get_object_for_user(self.get_queryset(), self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=ClusterCreateSerializer, responses={201: dict})
    def create(self, request):
        """Register a cluster in the current org (admins); a health check starts at once."""
        data = ClusterCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = current_membership(request)
        if membership is None:
            from django.http import Http404

            raise Http404("You are not a member of that organization.")
        cluster, op = services.register_cluster(
            actor=request.user, org=membership.org, via=via_for(request), **data.validated_data
        )
        body = {**ClusterSerializer(cluster).data, "operation": OperationSerializer(op).data}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: OperationSerializer})
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        """Check reachability and version now (202 with the operation)."""
        return accepted(services.check_cluster(actor=request.user, cluster=self.get_object(), via=via_for(request)))

    def destroy(self, request, pk=None):
        services.remove_cluster(actor=request.user, cluster=self.get_object(), via=via_for(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
