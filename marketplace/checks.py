"""System checks of the marketplace: Stripe must be configured completely or not at all."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_stripe(app_configs, **kwargs):
    key, secret = bool(settings.STRIPE_API_KEY), bool(settings.STRIPE_WEBHOOK_SECRET)
    if key and not secret:
        return [
            Error(
                "STRIPE_API_KEY is set but STRIPE_WEBHOOK_SECRET is not: payments would never be confirmed.",
                hint="Set STRIPE_WEBHOOK_SECRET (or _FILE) to the signing secret of the webhook endpoint "
                "/marketplace/webhooks/stripe/, or unset STRIPE_API_KEY for the no-payment-provider mode.",
                id="marketplace.E001",
            )
        ]
    if secret and not key:
        return [
            Error(
                "STRIPE_WEBHOOK_SECRET is set but STRIPE_API_KEY is not.",
                hint="Set STRIPE_API_KEY (or _FILE) too, or unset both for the no-payment-provider mode.",
                id="marketplace.E002",
            )
        ]
    if settings.STRIPE_API_BASE and not key:
        return [
            Error(
                "STRIPE_API_BASE is set but STRIPE_API_KEY is not.",
                hint="Set STRIPE_API_KEY too, or unset STRIPE_API_BASE.",
                id="marketplace.E003",
            )
        ]
    return []
