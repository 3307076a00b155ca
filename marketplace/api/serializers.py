"""Serializers of the marketplace API."""

from __future__ import annotations

from rest_framework import serializers

from marketplace.models import Listing, ListingPrice, PurchaseRequest


class PriceSerializer(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.slug")
    plan_name = serializers.CharField(source="plan.name")
    currency = serializers.CharField(source="listing.currency")
    free = serializers.BooleanField(source="is_free")

    class Meta:
        model = ListingPrice
        fields = ["plan", "plan_name", "monthly_amount", "currency", "free"]


class ListingSerializer(serializers.ModelSerializer):
    vendor = serializers.CharField(source="vendor.slug")
    type = serializers.CharField(source="service_type.slug")
    prices = PriceSerializer(many=True, read_only=True)

    class Meta:
        model = Listing
        fields = [
            "slug",
            "name",
            "vendor",
            "type",
            "summary",
            "description",
            "logo_url",
            "categories",
            "documentation_url",
            "terms",
            "currency",
            "state",
            "prices",
            "published_at",
        ]


class ListingCreateSerializer(serializers.Serializer):
    type = serializers.SlugField()
    summary = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    logo_url = serializers.URLField(required=False, allow_blank=True, default="")
    categories = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list)
    documentation_url = serializers.URLField(required=False, allow_blank=True, default="")
    terms = serializers.CharField(required=False, allow_blank=True, default="")
    currency = serializers.CharField(max_length=3, required=False, default="usd")
    prices = serializers.DictField(child=serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0))
    slug = serializers.SlugField(required=False, allow_blank=True, default="")


class PurchaseSerializer(serializers.ModelSerializer):
    org = serializers.CharField(source="org.slug")
    team = serializers.CharField(source="team.slug", default=None)
    requested_by = serializers.CharField(source="requested_by.username", default=None)
    listing = serializers.CharField(source="listing.slug")
    plan = serializers.CharField(source="price.plan.slug")
    from_plan = serializers.CharField(source="from_price.plan.slug", default=None)
    instance = serializers.CharField(source="instance.name", default=None)
    state_label = serializers.CharField(source="get_state_display")
    url = serializers.CharField(source="get_absolute_url")

    class Meta:
        model = PurchaseRequest
        fields = [
            "id",
            "org",
            "team",
            "requested_by",
            "kind",
            "listing",
            "plan",
            "from_plan",
            "instance",
            "monthly_amount",
            "currency",
            "state",
            "state_label",
            "charged",
            "payment_message",
            "created_at",
            "decided_at",
            "paid_at",
            "url",
        ]


class PurchaseCreateSerializer(serializers.Serializer):
    listing = serializers.SlugField()
    plan = serializers.SlugField()
    team = serializers.SlugField(required=False, allow_blank=True, default="")


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class PaymentMethodSerializer(serializers.Serializer):
    payment_method = serializers.CharField(max_length=255)
