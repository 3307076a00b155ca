"""Models of the marketplace app (see ../shared/DESIGN.md, "Vocabulary").

* ``Listing``: a vendor org's public offer of one of its types; ``ListingPrice``: the monthly
  price of one plan of it (0 = free), with the Stripe price (or legacy plan) id.
* ``BillingAccount``: an org's Stripe customer and default payment method.
* ``PurchaseRequest``: a request to spend (a new plan, or the difference of a plan upgrade);
  ``Approval``: an admin's (or the self-approval limit's) decision on it.
* ``Entitlement``: the org may provision that plan (one live instance per active entitlement).
* ``StripeEvent``: every webhook event id processed, so a redelivery does nothing.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from portal.models import Organization, Team, slug_validator

currency_validator = RegexValidator(r"^[a-z]{3}$", "Use a three-letter ISO currency code such as usd or eur.")


class Listing(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        LISTED = "listed", "Listed"
        UNLISTED = "unlisted", "Unlisted"

    vendor = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="listings")
    service_type = models.OneToOneField("catalog.ServiceType", on_delete=models.PROTECT, related_name="listing")
    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    summary = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown; rendered sanitised.")
    logo_url = models.URLField(max_length=500, blank=True)
    categories = models.JSONField(default=list, blank=True)
    documentation_url = models.URLField(max_length=500, blank=True)
    terms = models.TextField(blank=True)
    currency = models.CharField(max_length=3, default="usd", validators=[currency_validator])
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT, db_index=True)
    stripe_product_id = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "slug"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("marketplace-listing", args=[self.slug])


class ListingPrice(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="prices")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="listing_prices")
    monthly_amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    # The Stripe price id (or, with STRIPE_USE_LEGACY_PLANS, the legacy plan id) billing this plan.
    stripe_price_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["listing", "monthly_amount", "plan__order"]
        constraints = [models.UniqueConstraint(fields=["listing", "plan"], name="listingprice_unique_plan")]

    def __str__(self) -> str:
        return f"{self.listing.slug}/{self.plan.slug}"

    @property
    def is_free(self) -> bool:
        return self.monthly_amount <= 0


class BillingAccount(models.Model):
    """An org's customer at the payment provider and the payment method an admin set up."""

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="billing_account")
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    payment_method_id = models.CharField(max_length=255, blank=True)
    payment_method_label = models.CharField(max_length=100, blank=True)
    # The payment method an admin asked for last: the ``billing.payment_method`` operation sets it
    # up at the provider, then copies it to ``payment_method_id`` (an older request never wins).
    requested_payment_method_id = models.CharField(max_length=255, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"billing of {self.org}"


class PurchaseRequest(models.Model):
    class Kind(models.TextChoices):
        NEW = "new", "New plan"
        UPGRADE = "upgrade", "Plan upgrade"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved, payment in progress"
        PAID = "paid", "Paid"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="purchase_requests")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NEW)
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="purchases")
    price = models.ForeignKey(ListingPrice, on_delete=models.PROTECT, related_name="purchases")
    from_price = models.ForeignKey(
        ListingPrice, null=True, blank=True, on_delete=models.PROTECT, related_name="upgrades_from"
    )
    instance = models.ForeignKey(
        "instances.Instance", null=True, blank=True, on_delete=models.SET_NULL, related_name="purchase_requests"
    )
    pending_changes = models.JSONField(default=dict, blank=True, help_text="Non-secret parameter changes to apply.")
    monthly_amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    charged = models.BooleanField(default=False, help_text="False: no payment provider was configured.")
    payment_message = models.TextField(blank=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_invoice_id = models.CharField(max_length=255, blank=True, db_index=True)
    # An upgrade's difference is charged by itself (a PaymentIntent) before the subscription changes.
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        what = f"{self.listing.name} {self.price.plan.name}" if self.listing_id and self.price_id else "purchase"
        return f"{self.get_kind_display()}: {what}"

    def get_absolute_url(self) -> str:
        return reverse("marketplace-purchase", args=[self.pk])

    @property
    def badge_state(self) -> str:
        """The UI's shared state colour for this purchase state."""
        return {
            "pending": "pending",
            "approved": "in_progress",
            "paid": "ready",
            "payment_failed": "failed",
            "rejected": "failed",
            "cancelled": "cancelled",
        }[self.state]

    @property
    def is_open(self) -> bool:
        return self.state in (self.State.PENDING, self.State.APPROVED, self.State.PAYMENT_FAILED)


class Approval(models.Model):
    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        AUTO = "auto", "Within the self-approval limit"

    purchase = models.ForeignKey(PurchaseRequest, on_delete=models.CASCADE, related_name="approvals")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices)
    comment = models.TextField(blank=True)
    spend_before = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    limit = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["purchase"], name="approval_one_decision_per_purchase")]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.purchase_id}"


class Entitlement(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDING = "ending", "Ends at period end"
        ENDED = "ended", "Ended"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="entitlements")
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="entitlements")
    price = models.ForeignKey(ListingPrice, on_delete=models.PROTECT, related_name="entitlements")
    purchase = models.OneToOneField(PurchaseRequest, on_delete=models.PROTECT, related_name="entitlement")
    instance = models.ForeignKey(
        "instances.Instance", null=True, blank=True, on_delete=models.SET_NULL, related_name="entitlements"
    )
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.org.slug}: {self.listing.slug}/{self.price.plan.slug}"


class StripeEvent(models.Model):
    """A webhook event, stored once by id: redeliveries are acknowledged and ignored."""

    id = models.CharField(max_length=255, primary_key=True)
    type = models.CharField(max_length=100)
    created = models.IntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"
