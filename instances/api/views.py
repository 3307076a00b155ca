"""REST API of the instances app."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.selectors import get_type_for_user
from instances import services
from instances.api.serializers import (
    BindingSerializer,
    BindSerializer,
    ClusterCreateSerializer,
    ClusterSerializer,
    InstanceDetailSerializer,
    InstanceSerializer,
    ProvisionSerializer,
    ShareCreateSerializer,
    SharedInstanceSerializer,
    ShareSerializer,
    UpdateSerializer,
)
from instances.models import Binding, Cluster, Instance
from instances.selectors import (
    bindings_for_user,
    get_bindable_instance,
    get_binding_for_user,
    get_instance_for_user,
    instances_for_user,
    shared_instances_for_user,
)
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


# --- instances ----------------------------------------------------------------------------


def _field_error(field: str, message: str) -> ValidationError:
    return ValidationError({field: message})


def resolve_plan(service_type, slug: str):
    if not slug:
        return None
    plan = service_type.plans.filter(slug=slug).first()
    if plan is None:
        raise _field_error("plan", f"{service_type.slug} has no plan {slug!r}.")
    return plan


def resolve_version(service_type, version: str):
    if not version:
        return None
    found = service_type.versions.filter(version=version, state="published").first()
    if found is None:
        raise _field_error("version", f"{service_type.slug} has no published version {version!r}.")
    return found


def resolve_cluster(org, name: str) -> Cluster | None:
    if not name:
        return None
    cluster = Cluster.objects.filter(org=org, name=name).first()
    if cluster is None:
        raise _field_error("cluster", f"{org.name} has no cluster called {name!r}.")
    return cluster


class InstanceFilter(django_filters.FilterSet):
    org = django_filters.CharFilter(field_name="org__slug")
    type = django_filters.CharFilter(field_name="type__slug")

    class Meta:
        model = Instance
        fields = ["org", "name", "state", "type"]


class InstanceViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    filterset_class = InstanceFilter

    def get_queryset(self):
        return instances_for_user(self.request.user)

    def get_serializer_class(self):
        return InstanceDetailSerializer if self.action == "retrieve" else InstanceSerializer

    def get_object(self):
        return get_instance_for_user(self.request.user, self.kwargs["pk"])

    def _membership(self, request):
        membership = current_membership(request)
        if membership is None:
            raise Http404("You are not a member of that organization.")
        return membership

    @extend_schema(request=ProvisionSerializer, responses={202: OperationSerializer})
    def create(self, request):
        """Provision an instance in the current org (202 with the operation)."""
        data = ProvisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        org = self._membership(request).org
        service_type = get_type_for_user(request.user, v["type"])
        instance, op = services.provision_instance(
            actor=request.user,
            org=org,
            service_type=service_type,
            name=v["name"],
            plan=resolve_plan(service_type, v["plan"]),
            version=resolve_version(service_type, v["version"]),
            parameters=v["parameters"],
            cluster=resolve_cluster(org, v["cluster"]),
            namespace=v["namespace"],
            via=via_for(request),
        )
        return Response(
            {**OperationSerializer(op).data, "instance": InstanceSerializer(instance).data},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=UpdateSerializer, responses={202: OperationSerializer})
    def partial_update(self, request, pk=None):
        """Change plan and/or parameters (202 with the operation)."""
        instance = self.get_object()
        data = UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        op = services.update_instance(
            actor=request.user,
            instance=instance,
            plan=resolve_plan(instance.type, data.validated_data["plan"]),
            changes=data.validated_data["parameters"],
            via=via_for(request),
        )
        return accepted(op)

    @extend_schema(request=UpdateSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        """What an update would change: a unified diff of the rendered manifests (secrets masked)."""
        instance = self.get_object()
        data = UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            services.preview_update(
                actor=request.user,
                instance=instance,
                plan=resolve_plan(instance.type, data.validated_data["plan"]),
                changes=data.validated_data["parameters"],
            )
        )

    @extend_schema(parameters=[OpenApiParameter("abandon", bool)], responses={202: OperationSerializer})
    def destroy(self, request, pk=None):
        """Deprovision (202 with the operation); ``?abandon=true`` forgets it without touching the cluster."""
        instance = self.get_object()
        abandon = request.query_params.get("abandon", "").lower() in {"1", "true", "yes"}
        op = services.deprovision_instance(actor=request.user, instance=instance, abandon=abandon, via=via_for(request))
        if op is None:
            instance.refresh_from_db()
            return Response(InstanceDetailSerializer(instance).data)
        return accepted(op)

    @extend_schema(request=BindSerializer, responses={202: OperationSerializer})
    @action(detail=True, methods=["get", "post"], url_path="bindings")
    def bindings(self, request, pk=None):
        """List its bindings (yours only, for a shared instance) or bind an app (202)."""
        instance, membership = get_bindable_instance(request.user, pk)
        if request.method == "GET":
            qs = instance.bindings.exclude(state=Binding.State.DELETED).select_related(
                "instance", "org", "app_cluster", "created_by"
            )
            if membership.org_id != instance.org_id:
                qs = qs.filter(org=membership.org)
            page = self.paginate_queryset(qs)
            return self.get_paginated_response(BindingSerializer(page, many=True).data)
        data = BindSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        binding, op = services.bind_instance(
            actor=request.user,
            instance=instance,
            app=v["app"],
            app_namespace=v["namespace"],
            name=v["name"],
            app_cluster=resolve_cluster(membership.org, v["cluster"]),
            via=via_for(request),
        )
        return Response(
            {**OperationSerializer(op).data, "binding": BindingSerializer(binding).data},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=ShareCreateSerializer, responses={201: ShareSerializer})
    @action(detail=True, methods=["get", "post"], url_path="shares")
    def shares(self, request, pk=None):
        """Who it is shared with; share it with another org or a team (they may bind)."""
        instance = self.get_object()
        if request.method == "GET":
            return Response(ShareSerializer(instance.shares.select_related("team__org", "org"), many=True).data)
        data = ShareCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team, org = services.resolve_share_target(**data.validated_data)
        share = services.share_instance(actor=request.user, instance=instance, team=team, org=org, via=via_for(request))
        return Response(ShareSerializer(share).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[OpenApiParameter("confirm", bool)], responses={200: dict})
    @action(detail=True, methods=["delete"], url_path=r"shares/(?P<share_id>\d+)")
    def unshare(self, request, pk=None, share_id=None):
        """Stop sharing. If that revokes bindings, answer 400 listing them unless ``?confirm=true``."""
        instance = self.get_object()
        share = instance.shares.filter(pk=share_id).select_related("team", "org").first()
        if share is None:
            raise Http404("No share matches the given query.")
        confirm = request.query_params.get("confirm", "").lower() in {"1", "true", "yes"}
        ops = services.unshare_instance(actor=request.user, share=share, confirm=confirm, via=via_for(request))
        return Response({"revoked": OperationSerializer(ops, many=True).data})


class SharedInstanceViewSet(viewsets.ReadOnlyModelViewSet):
    """Instances other orgs or teams shared with you: bind to them with POST /instances/{id}/bindings/."""

    serializer_class = SharedInstanceSerializer
    filterset_fields = ["name"]

    def get_queryset(self):
        return shared_instances_for_user(self.request.user)


class BindingViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = BindingSerializer
    filterset_fields = ["state", "name", "instance"]

    def get_queryset(self):
        return bindings_for_user(self.request.user).exclude(state=Binding.State.DELETED)

    def get_object(self):
        return get_binding_for_user(self.request.user, self.kwargs["pk"])

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"])
    def credentials(self, request, pk=None):
        """The credentials, once, to the user who bound; afterwards only masked."""
        return Response(services.reveal_credentials(actor=request.user, binding=self.get_object()))

    @extend_schema(responses={202: OperationSerializer})
    def destroy(self, request, pk=None):
        """Unbind: remove the Secret and the projection (202 with the operation)."""
        return accepted(services.unbind(actor=request.user, binding=self.get_object(), via=via_for(request)))
