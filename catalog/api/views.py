"""REST API of the catalog app: thin views over catalog.services and catalog.selectors."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog import importer, selectors, services
from catalog import schema as sch
from catalog.api import serializers as s
from catalog.models import Plan, RegisteredService, TypeVersion
from catalog.parameters import validate_parameters
from catalog.rendering import RenderError, render_manifests
from portal.access import get_org_for_user, require_role, scope_for_user
from portal.api.views import accepted, via_for
from portal.current_org import current_membership
from portal.models import Organization, Role, Team

# --- helpers --------------------------------------------------------------------------------


def org_for(request, slug: str | None):
    if slug:
        return get_org_for_user(request.user, slug)
    membership = current_membership(request)
    if membership is None:
        raise ValidationError({"org": "Choose an organization (--org, or `sbay orgs switch`)."})
    return membership.org


def team_for(request, org, slug: str | None) -> Team:
    require_role(request.user, org, Role.DEVELOPER)  # a viewer hears about their role first
    if slug:
        team = Team.objects.filter(org=org, slug=slug).first()
        if team is None:
            raise ValidationError({"owner_team": f"{org.name} has no team {slug!r}."})
        return team
    mine = list(Team.objects.filter(org=org, memberships__user=request.user))
    if len(mine) == 1:
        return mine[0]
    choices = ", ".join(t.slug for t in mine) or "none; ask an admin to add you to one"
    raise ValidationError({"owner_team": f"Name the owning team (your teams in {org.name}: {choices})."})


def orgs_named(slugs: list[str] | None) -> list[Organization] | None:
    if slugs is None:
        return None
    orgs = list(Organization.objects.filter(slug__in=slugs))
    missing = sorted(set(slugs) - {o.slug for o in orgs})
    if missing:
        raise ValidationError({"shared_with": f"Unknown organization(s): {', '.join(missing)}."})
    return orgs


def cluster_for(request, name: str):
    """A cluster of the current org by name (clusters are org data: portal.access scopes them)."""
    from instances.models import Cluster

    membership = current_membership(request)
    qs = scope_for_user(Cluster.objects.select_related("org"), request.user).filter(name=name)
    if membership is not None:
        qs = qs.filter(org=membership.org)
    cluster = qs.first()
    if cluster is None:
        raise ValidationError({"cluster": f"No cluster called {name!r} in your organization."})
    return cluster


# --- types ----------------------------------------------------------------------------------


class TypeViewSet(viewsets.GenericViewSet):
    lookup_field = "slug"
    lookup_value_regex = r"[a-z0-9-]+"
    serializer_class = s.TypeSerializer

    def get_queryset(self):
        params = self.request.query_params
        return selectors.with_listing_data(
            selectors.search_types(
                self.request.user,
                q=params.get("q", ""),
                owner=params.get("owner", ""),
                source=params.get("source", ""),
                visibility=params.get("visibility", ""),
                org=params.get("org", ""),
            )
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "ownership": selectors.Ownership.of(self.request.user)}

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Search name, slug, tags and description."),
            OpenApiParameter("owner", str, description="Owning team slug (or org/team)."),
            OpenApiParameter("source", str, enum=["template", "broker"]),
            OpenApiParameter("visibility", str, enum=["team", "org", "orgs", "public"]),
            OpenApiParameter("org", str, description="Owning organization slug."),
        ]
    )
    def list(self, request):
        """Types you may see (visibility enforced), with search and filters."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=s.TypeWriteSerializer, responses={201: s.TypeDetailSerializer})
    def create(self, request):
        data = s.TypeWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        org = org_for(request, v.get("org"))
        type_ = services.create_type(
            actor=request.user,
            org=org,
            owner_team=team_for(request, org, v.get("owner_team")),
            slug=v.get("slug", ""),
            name=v.get("name", ""),
            description=v.get("description", ""),
            icon=v.get("icon", "box"),
            tags=v.get("tags"),
            visibility=v.get("visibility", "org"),
            shared_with=orgs_named(v.get("shared_with")),
            via=via_for(request),
        )
        return Response(self._detail(type_.slug), status=status.HTTP_201_CREATED)

    def _detail(self, slug: str) -> dict:
        type_ = selectors.type_detail(self.request.user, slug)
        return s.TypeDetailSerializer(type_, context={"ownership": type_.ownership, "request": self.request}).data

    @extend_schema(responses=s.TypeDetailSerializer)
    def retrieve(self, request, slug=None):
        return Response(self._detail(slug))

    @extend_schema(request=s.TypeWriteSerializer, responses=s.TypeDetailSerializer)
    def partial_update(self, request, slug=None):
        """Change name, description, icon, tags, owning team; visibility and shared_with share the type."""
        type_ = selectors.get_type_for_user(request.user, slug)
        data = s.TypeWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if "slug" in v and v["slug"] != type_.slug:
            raise ValidationError({"slug": "The slug of a type cannot change."})
        if "org" in v and v["org"] != type_.org.slug:
            raise ValidationError({"org": "The organization of a type cannot change."})
        fields = {k: v[k] for k in ("name", "description", "icon", "tags") if k in v}
        if "owner_team" in v:
            fields["owner_team"] = team_for(request, type_.org, v["owner_team"])
        if fields:
            type_ = services.update_type(actor=request.user, type_=type_, via=via_for(request), **fields)
        if "visibility" in v or "shared_with" in v:
            shared = orgs_named(v.get("shared_with"))
            if shared is None:
                shared = list(type_.shared_with.all())
            services.share_type(
                actor=request.user,
                type_=type_,
                visibility=v.get("visibility", type_.visibility),
                shared_with=shared,
                via=via_for(request),
            )
        return Response(self._detail(slug))

    @extend_schema(request=s.OsbToggleSerializer, responses={200: s.TypeDetailSerializer})
    @action(detail=True, methods=["post"])
    def osb(self, request, slug=None):
        """Offer the type to other platforms over Servicebay's OSB broker API (type owners), or stop."""
        type_ = selectors.get_type_for_user(request.user, slug)
        data = s.OsbToggleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.set_osb_enabled(
            actor=request.user, type_=type_, enabled=data.validated_data["enabled"], via=via_for(request)
        )
        return Response(self._detail(slug))

    @extend_schema(request=s.ValidateSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def validate(self, request, slug=None):
        """Validate deploy parameters: 200 with the merged values (secrets masked) or 400 with JSON pointers."""
        type_ = selectors.get_type_for_user(request.user, slug)
        data = s.ValidateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version, plan = self._version_and_plan(type_, data.validated_data)
        values = validate_parameters(version, plan, data.validated_data.get("parameters"))
        return Response(
            {
                "type": type_.slug,
                "version": version.version,
                "plan": plan.slug if plan else None,
                "values": sch.mask(version.parameter_schema or {}, values),
            }
        )

    def _version_and_plan(self, type_, v):
        if v.get("version"):
            version = selectors.get_version_for_user(self.request.user, type_, v["version"])
        else:
            version = selectors.default_version(self.request.user, type_)
            if version is None:
                raise ValidationError({"version": f"{type_.slug} has no published version yet."})
        plan = selectors.get_plan(type_, v["plan"]) if v.get("plan") else None
        if plan is None and isinstance(v.get("plan"), str) and v["plan"]:
            raise ValidationError({"plan": f"{type_.slug} has no plan {v['plan']}."})
        return version, plan

    @extend_schema(request=s.ImportSourceSerializer, responses={200: dict, 202: dict})
    @action(detail=False, methods=["post"], url_path="import/preview")
    def import_preview(self, request):
        """Proposed parameters for uploaded YAML (200), or start reading a cluster (202 with the operation)."""
        data = s.ImportSourceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v.get("yaml"):
            return Response(importer.preview(importer.objects_from_yaml(v["yaml"]), v.get("base_name") or None))
        if not v.get("cluster"):
            raise ValidationError({"yaml": "Send the objects as yaml, or name a cluster, namespace and object."})
        cluster = cluster_for(request, v["cluster"])
        op = services.read_cluster_for_import(
            actor=request.user,
            cluster=cluster,
            namespace=v.get("namespace", ""),
            service=v.get("service", ""),
            deployment=v.get("deployment", ""),
            selector=v.get("selector", ""),
            via=via_for(request),
        )
        return accepted(op)

    @extend_schema(request=s.ImportSerializer, responses={201: s.TypeDetailSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_type(self, request):
        """Create a type and a draft 1.0.0 from objects (yaml, or the objects of a preview)."""
        data = s.ImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        objects = request.data.get("objects")
        if v.get("yaml"):
            source = importer.objects_from_yaml(v["yaml"])
        elif isinstance(objects, list) and objects:
            source = importer.select_objects(objects, "objects read from a cluster")
        else:
            raise ValidationError({"yaml": "Send the objects as yaml (or objects from an import preview)."})
        org = org_for(request, v.get("org"))
        parameters = v.get("parameters")
        if parameters is not None and not isinstance(parameters, list):
            raise ValidationError({"parameters": "A list of parameter names or {name, …} objects."})
        version = services.import_type(
            actor=request.user,
            org=org,
            owner_team=team_for(request, org, v.get("owner_team")),
            slug=v.get("slug", ""),
            name=v.get("name", ""),
            description=v.get("description", ""),
            icon=v.get("icon", "box"),
            tags=v.get("tags"),
            visibility=v.get("visibility", "org"),
            shared_with=orgs_named(v.get("shared_with")),
            objects=source.objects,
            selections=parameters,
            base_name=v.get("base_name") or None,
            source_note=source.description,
            via=via_for(request),
        )
        return Response(self._detail(version.type.slug), status=status.HTTP_201_CREATED)


# --- versions -------------------------------------------------------------------------------


class VersionViewSet(viewsets.GenericViewSet):
    queryset = TypeVersion.objects.none()  # for the OpenAPI schema; reads go through catalog.selectors
    lookup_field = "version"
    lookup_value_regex = r"[^/]+"
    serializer_class = s.VersionSerializer

    def _type(self):
        return selectors.get_type_for_user(self.request.user, self.kwargs["type_slug"])

    def _version(self):
        type_ = self._type()
        return selectors.get_version_for_user(self.request.user, type_, self.kwargs["version"])

    @extend_schema(responses=s.VersionSummarySerializer(many=True))
    def list(self, request, type_slug=None):
        """Versions, newest first (drafts only for the type's owners)."""
        type_ = self._type()
        page = self.paginate_queryset(selectors.versions_for_user(request.user, type_))
        return self.get_paginated_response(s.VersionSummarySerializer(page, many=True).data)

    @extend_schema(request=s.VersionWriteSerializer, responses={201: s.VersionSerializer})
    def create(self, request, type_slug=None):
        """A new draft version (``copy_from`` starts from another version's content)."""
        type_ = self._type()
        data = s.VersionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        copy_from = None
        if v.get("copy_from"):
            copy_from = selectors.get_version_for_user(request.user, type_, v.pop("copy_from"))
        v.pop("copy_from", None)
        if not v.get("version"):
            raise ValidationError({"version": "This field is required."})
        version = services.create_version(
            actor=request.user,
            type_=type_,
            version=v.pop("version"),
            copy_from=copy_from,
            via=via_for(request),
            **v,
        )
        return Response(s.VersionSerializer(version).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, type_slug=None, version=None):
        """One version with its template, schema, binding template and outputs (``latest``: newest published)."""
        return Response(s.VersionSerializer(self._version()).data)

    @extend_schema(request=s.VersionWriteSerializer)
    def partial_update(self, request, type_slug=None, version=None):
        """Change a draft (published versions are immutable)."""
        found = self._version()
        data = s.VersionWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        if "version" in v and v["version"] != found.version:
            raise ValidationError({"version": "The version number cannot change; create a new version instead."})
        v.pop("version", None)
        v.pop("copy_from", None)
        updated = services.update_version(actor=request.user, version=found, via=via_for(request), **v)
        return Response(s.VersionSerializer(updated).data)

    def destroy(self, request, type_slug=None, version=None):
        services.delete_version(actor=request.user, version=self._version(), via=via_for(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def publish(self, request, type_slug=None, version=None):
        """Validate and publish a draft; 400 names every problem (field → messages)."""
        published = services.publish_version(actor=request.user, version=self._version(), via=via_for(request))
        return Response(s.VersionSerializer(published).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def deprecate(self, request, type_slug=None, version=None):
        deprecated = services.deprecate_version(actor=request.user, version=self._version(), via=via_for(request))
        return Response(s.VersionSerializer(deprecated).data)

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"])
    def check(self, request, type_slug=None, version=None):
        """What publishing would say, without publishing."""
        found = self._version()
        if not selectors.can_edit(request.user, found.type):
            raise PermissionDenied("Only the type's owners can check a version.")
        problems = services.check_version(found)
        return Response({"ok": not problems, "problems": problems})

    @extend_schema(request=s.RenderSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def render(self, request, type_slug=None, version=None):
        """Render the manifests with parameters (owners only): what an instance would get."""
        found = self._version()
        if not selectors.can_edit(request.user, found.type):
            raise PermissionDenied("Only the type's owners can render a version.")
        data = s.RenderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        plan = selectors.get_plan(found.type, v["plan"]) if v.get("plan") else None
        values = validate_parameters(found, plan, v.get("parameters"))
        try:
            objects = render_manifests(
                found,
                values,
                instance_name=v["instance_name"],
                namespace=v["namespace"],
                labels={"app.kubernetes.io/instance": v["instance_name"], "app.kubernetes.io/name": found.type.slug},
            )
        except RenderError as exc:
            raise ValidationError({"manifests_template": [exc.describe()]}) from exc
        return Response({"objects": objects})


# --- plans ----------------------------------------------------------------------------------


class PlanViewSet(viewsets.GenericViewSet):
    queryset = Plan.objects.none()  # for the OpenAPI schema; reads go through catalog.selectors
    lookup_field = "plan"
    lookup_value_regex = r"[a-z0-9-]+"
    serializer_class = s.PlanSerializer

    def _type(self):
        return selectors.get_type_for_user(self.request.user, self.kwargs["type_slug"])

    def _context(self, type_):
        return {
            "schema_version": selectors.default_version(self.request.user, type_),
            "is_owner": selectors.is_type_owner(self.request.user, type_),
        }

    def list(self, request, type_slug=None):
        type_ = self._type()
        plans = list(type_.plans.all())
        return Response(
            {"count": len(plans), "results": s.PlanSerializer(plans, many=True, context=self._context(type_)).data}
        )

    @extend_schema(request=s.PlanWriteSerializer, responses={201: s.PlanSerializer})
    def create(self, request, type_slug=None):
        type_ = self._type()
        data = s.PlanWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        plan = services.create_plan(
            actor=request.user,
            type_=type_,
            slug=v.get("slug", ""),
            name=v.get("name", v.get("slug", "")),
            description=v.get("description", ""),
            values=v.get("values"),
            locked=v.get("locked"),
            maintenance_info=v.get("maintenance_info"),
            order=v.get("order", 0),
            via=via_for(request),
        )
        return Response(s.PlanSerializer(plan).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, type_slug=None, plan=None):
        type_ = self._type()
        return Response(s.PlanSerializer(selectors.get_plan(type_, plan), context=self._context(type_)).data)

    @extend_schema(request=s.PlanWriteSerializer)
    def partial_update(self, request, type_slug=None, plan=None):
        type_ = self._type()
        found = selectors.get_plan(type_, plan)
        data = s.PlanWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        if v.pop("slug", found.slug) != found.slug:
            raise ValidationError({"slug": "The slug of a plan cannot change."})
        updated = services.update_plan(actor=request.user, plan=found, via=via_for(request), **v)
        return Response(s.PlanSerializer(updated).data)

    def destroy(self, request, type_slug=None, plan=None):
        type_ = self._type()
        services.delete_plan(actor=request.user, plan=selectors.get_plan(type_, plan), via=via_for(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- registered services --------------------------------------------------------------------


class RegisteredServiceViewSet(viewsets.GenericViewSet):
    serializer_class = s.RegisteredServiceSerializer
    filterset_fields = ["kind", "visibility", "slug"]

    def get_queryset(self):
        qs = selectors.registered_services_for_user(self.request.user)
        org = self.request.query_params.get("org")
        if org:
            qs = qs.filter(org__slug=org)
        q = self.request.query_params.get("q", "").strip()
        if q:
            qs = qs.filter(name__icontains=q) | qs.filter(description__icontains=q)
        return qs.order_by("name", "pk")

    def get_object(self):
        try:
            return self.get_queryset().get(pk=int(self.kwargs["pk"]))
        except (RegisteredService.DoesNotExist, ValueError, TypeError) as exc:
            from django.http import Http404

            raise Http404("No registered service matches the given query.") from exc

    def list(self, request):
        """Registered services you may see, with their current address."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=s.RegisteredServiceWriteSerializer, responses={201: s.RegisteredServiceSerializer})
    def create(self, request):
        """Register a Kubernetes Service (its address is then tracked) or an external host:port."""
        data = s.RegisteredServiceWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        org = org_for(request, v.get("org"))
        cluster = None
        if v.get("cluster"):
            cluster = cluster_for(request, v["cluster"])
        service = services.register_service(
            actor=request.user,
            org=org,
            owner_team=team_for(request, org, v.get("owner_team")),
            slug=v.get("slug", ""),
            name=v.get("name", v.get("slug", "")),
            kind=v.get("kind", "kubernetes" if cluster else "external"),
            description=v.get("description", ""),
            cluster=cluster,
            namespace=v.get("namespace", ""),
            service_name=v.get("service_name", ""),
            host=v.get("host", ""),
            port=v.get("port"),
            visibility=v.get("visibility", "org"),
            shared_with=orgs_named(v.get("shared_with")),
            via=via_for(request),
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=service.pk)).data, status=201)

    @extend_schema(request=s.RegisteredServiceWriteSerializer)
    def partial_update(self, request, pk=None):
        service = self.get_object()
        data = s.RegisteredServiceWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        fields = {k: v[k] for k in ("name", "description", "host", "port", "namespace", "service_name") if k in v}
        if "cluster" in v:
            fields["cluster"] = cluster_for(request, v["cluster"])
        if "owner_team" in v:
            fields["owner_team"] = team_for(request, service.org, v["owner_team"])
        if fields:
            services.update_registered_service(actor=request.user, service=service, via=via_for(request), **fields)
        if "visibility" in v or "shared_with" in v:
            shared = orgs_named(v.get("shared_with"))
            services.share_registered_service(
                actor=request.user,
                service=service,
                visibility=v.get("visibility", service.visibility),
                shared_with=shared if shared is not None else list(service.shared_with.all()),
                via=via_for(request),
            )
        return Response(self.get_serializer(self.get_object()).data)

    def destroy(self, request, pk=None):
        services.unregister_service(actor=request.user, service=self.get_object(), via=via_for(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: dict})
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        """Look the address up now (202 with the operation)."""
        return accepted(services.refresh_address(actor=request.user, service=self.get_object(), via=via_for(request)))
