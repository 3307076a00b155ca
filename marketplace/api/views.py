"""REST API of the marketplace app: thin views over marketplace.services and selectors."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import ServiceType
from marketplace import billing, selectors, services
from marketplace.api import serializers as s
from marketplace.models import BillingAccount
from portal.access import get_org_for_user, require_role
from portal.api.serializers import OperationSerializer
from portal.api.views import accepted, via_for
from portal.current_org import current_membership
from portal.models import Role, Team


def _membership(request):
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of that organization.")
    return membership


class ListingViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = s.ListingSerializer
    lookup_field = "slug"

    def get_queryset(self):
        params = self.request.query_params
        return selectors.listings_for_user(
            self.request.user, q=params.get("q", ""), category=params.get("category", "")
        )

    def get_object(self):
        return selectors.get_listing_for_user(self.request.user, self.kwargs["slug"])

    @extend_schema(
        parameters=[OpenApiParameter("q", str), OpenApiParameter("category", str)],
        responses=s.ListingSerializer(many=True),
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.ListingCreateSerializer, responses={201: s.ListingSerializer})
    def create(self, request):
        """A draft listing of one of your org's types (org admins)."""
        org = _membership(request).org
        data = s.ListingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        service_type = ServiceType.objects.filter(org=org, slug=fields.pop("type")).first()
        if service_type is None:
            require_role(request.user, org, Role.ADMIN)
            raise Http404("Your organization has no such type.")
        listing = services.create_listing(
            actor=request.user, org=org, service_type=service_type, via=via_for(request), **fields
        )
        return Response(self.get_serializer(selectors.get_listing_for_user(request.user, listing.slug)).data, 201)

    @extend_schema(request=None, responses={202: dict})
    @action(detail=True, methods=["post"])
    def publish(self, request, slug=None):
        return accepted(services.publish_listing(actor=request.user, listing=self.get_object(), via=via_for(request)))

    @extend_schema(request=None, responses=s.ListingSerializer)
    @action(detail=True, methods=["post"])
    def unlist(self, request, slug=None):
        listing = services.unlist_listing(actor=request.user, listing=self.get_object(), via=via_for(request))
        return Response(self.get_serializer(listing).data)


class PurchaseViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = s.PurchaseSerializer

    def get_queryset(self):
        qs = selectors.purchases_for_user(self.request.user)
        params = self.request.query_params
        if params.get("org"):
            qs = qs.filter(org__slug=params["org"])
        if params.get("state"):
            qs = qs.filter(state=params["state"])
        return qs

    def get_object(self):
        return selectors.get_purchase_for_user(self.request.user, self.kwargs["pk"])

    @extend_schema(
        parameters=[OpenApiParameter("org", str), OpenApiParameter("state", str)],
        responses=s.PurchaseSerializer(many=True),
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.PurchaseCreateSerializer, responses={201: s.PurchaseSerializer})
    def create(self, request):
        """Buy a plan: paid at once within the org's self-approval limit, else it waits for an admin."""
        org = _membership(request).org
        data = s.PurchaseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        listing = selectors.get_listing_for_user(request.user, data.validated_data["listing"])
        team = None
        if data.validated_data["team"]:
            team = Team.objects.filter(org=org, slug=data.validated_data["team"]).first()
            if team is None:
                from django.core.exceptions import ValidationError

                raise ValidationError({"team": f"{org.name} has no team {data.validated_data['team']!r}."})
        purchase, op = services.request_purchase(
            actor=request.user,
            org=org,
            listing=listing,
            plan_slug=data.validated_data["plan"],
            team=team,
            via=via_for(request),
        )
        body = dict(self.get_serializer(purchase).data)
        body["operation"] = str(op.pk) if op else None
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DecisionSerializer, responses={202: dict})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        data = s.DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        op = services.approve_purchase(
            actor=request.user, purchase=self.get_object(), comment=data.validated_data["comment"], via=via_for(request)
        )
        return accepted(op)

    @extend_schema(request=s.DecisionSerializer, responses=s.PurchaseSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        data = s.DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        purchase = services.reject_purchase(
            actor=request.user, purchase=self.get_object(), comment=data.validated_data["comment"], via=via_for(request)
        )
        return Response(self.get_serializer(purchase).data)

    @extend_schema(request=None, responses=s.PurchaseSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        purchase = services.cancel_purchase(actor=request.user, purchase=self.get_object(), via=via_for(request))
        return Response(self.get_serializer(purchase).data)

    @extend_schema(request=None, responses={202: dict})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return accepted(services.retry_payment(actor=request.user, purchase=self.get_object(), via=via_for(request)))


class SpendView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, org_slug):
        """Monthly spend by team and listing, and the purchases waiting for approval."""
        org = get_org_for_user(request.user, org_slug)
        summary = selectors.spend_summary(request.user, org)
        pending = selectors.pending_approvals(request.user, org)
        return Response(
            {
                "org": org.slug,
                "currency": summary["currency"],
                "monthly_spend": str(summary["total"]),
                "self_approval_limit": str(summary["limit"]),
                "headroom": str(summary["headroom"]),
                "by_team": [{**row, "total": str(row["total"])} for row in summary["by_team"]],
                "by_listing": [{**row, "total": str(row["total"])} for row in summary["by_listing"]],
                "pending": s.PurchaseSerializer(pending, many=True).data,
                "payment_provider": billing.provider().label,
            }
        )


class BillingView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, org_slug):
        org = get_org_for_user(request.user, org_slug)
        require_role(request.user, org, Role.VIEWER)
        account = BillingAccount.objects.filter(org=org).first()
        operation = services.payment_method_operation(account)
        return Response(
            {
                "org": org.slug,
                "payment_provider": billing.provider().label,
                "payment_method": account.payment_method_label if account else "",
                "payment_method_operation": OperationSerializer(operation).data if operation else None,
            }
        )

    @extend_schema(request=s.PaymentMethodSerializer, responses={202: OperationSerializer})
    def post(self, request, org_slug):
        """Set the org's payment method (org admins): a Stripe PaymentMethod id. Answers 202 with the
        operation that sets it up at the provider."""
        org = get_org_for_user(request.user, org_slug)
        data = s.PaymentMethodSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        op = services.set_payment_method(
            actor=request.user, org=org, payment_method_id=data.validated_data["payment_method"], via=via_for(request)
        )
        return accepted(op)
