"""Pages of the marketplace: listings, buying, approvals, spend, billing, and the Stripe webhook."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from catalog.models import ServiceType
from marketplace import billing, selectors, services
from marketplace.forms import BuyForm, DecisionForm, ListingForm, PaymentMethodForm
from marketplace.markdown import render_markdown
from marketplace.models import BillingAccount
from portal.access import has_role
from portal.current_org import current_membership
from portal.models import Role
from portal.views import apply_errors

log = logging.getLogger(__name__)


def _org(request):
    membership = current_membership(request)
    return membership.org if membership else None


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@login_required
def marketplace_index(request):
    q = request.GET.get("q", "").strip()
    category = request.GET.get("category", "").strip().lower()
    listings = list(selectors.listings_for_user(request.user, q=q, category=category))
    all_listings = listings if not (q or category) else list(selectors.listings_for_user(request.user))
    org = _org(request)
    context = {
        "listings": listings,
        "categories": selectors.categories(all_listings),
        "filters": {"q": q, "category": category},
        "can_sell": org is not None and has_role(request.user, org, Role.ADMIN),
        "provider": billing.provider(),
    }
    template = "marketplace/htmx/listing_grid.html" if request.htmx else "marketplace/index.html"
    return render(request, template, context)


@login_required
def listing_detail(request, slug):
    listing = selectors.get_listing_for_user(request.user, slug)
    org = _org(request)
    buy_form = BuyForm(org=org)
    if request.method == "POST":
        buy_form = BuyForm(request.POST, org=org)
        if org is None:
            messages.error(request, "Join an organization first.")
        elif buy_form.is_valid():
            try:
                purchase, _ = services.request_purchase(
                    actor=request.user,
                    org=org,
                    listing=listing,
                    plan_slug=buy_form.cleaned_data["plan"],
                    team=buy_form.cleaned_data["team"],
                )
            except ValidationError as exc:
                apply_errors(buy_form, exc)
            else:
                if purchase.state == purchase.State.PENDING:
                    messages.info(request, "Your purchase request waits for an admin's approval; you will be notified.")
                else:
                    messages.success(request, "Purchase approved within your organization's limit; payment started.")
                return redirect(purchase.get_absolute_url())
    is_vendor_admin = has_role(request.user, listing.vendor, Role.ADMIN)
    context = {
        "listing": listing,
        "description": render_markdown(listing.description),
        "prices": list(listing.prices.all()),
        "buy_form": buy_form,
        "wanted_plan": request.GET.get("plan", ""),
        "org": org,
        "is_vendor_admin": is_vendor_admin,
        "can_buy": org is not None and org.pk != listing.vendor_id and has_role(request.user, org, Role.DEVELOPER),
        "provider": billing.provider(),
    }
    return render(request, "marketplace/listing_detail.html", context)


@login_required
@require_POST
def listing_action(request, slug, action):
    listing = selectors.get_listing_for_user(request.user, slug)
    try:
        if action == "publish":
            op = services.publish_listing(actor=request.user, listing=listing)
            messages.success(request, "Publishing: the listing appears on the marketplace when it is done.")
            return redirect(op.get_absolute_url())
        if action == "unlist":
            services.unlist_listing(actor=request.user, listing=listing)
            messages.success(request, "Unlisted: nobody can buy it any more; existing subscriptions keep working.")
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    return redirect(listing.get_absolute_url())


@login_required
def listing_new(request):
    org = _org(request)
    if org is None:
        return redirect("marketplace")
    types = ServiceType.objects.filter(org=org, listing__isnull=True).order_by("name")
    chosen = types.filter(slug=request.GET.get("type") or request.POST.get("type") or "").first()
    plans = list(chosen.plans.all()) if chosen else []
    form = ListingForm(request.POST or None, plans=plans)
    if request.method == "POST" and chosen and form.is_valid():
        data = form.cleaned_data
        try:
            listing = services.create_listing(
                actor=request.user,
                org=org,
                service_type=chosen,
                summary=data["summary"],
                description=data["description"],
                logo_url=data["logo_url"],
                categories=data["categories"],
                documentation_url=data["documentation_url"],
                terms=data["terms"],
                currency=data["currency"],
                prices=form.prices(),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Listing saved as a draft: publish it to sell it.")
            return redirect(listing.get_absolute_url())
    return render(
        request, "marketplace/listing_form.html", {"types": types, "chosen": chosen, "form": form, "org": org}
    )


@login_required
def purchase_detail(request, pk):
    purchase = selectors.get_purchase_for_user(request.user, pk)
    form = DecisionForm(request.POST or None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "approve" and form.is_valid():
                services.approve_purchase(actor=request.user, purchase=purchase, comment=form.cleaned_data["comment"])
                messages.success(request, "Approved: payment started and the requester was notified.")
            elif action == "reject" and form.is_valid():
                services.reject_purchase(actor=request.user, purchase=purchase, comment=form.cleaned_data["comment"])
                messages.success(request, "Rejected: the requester was notified.")
            elif action == "cancel":
                services.cancel_purchase(actor=request.user, purchase=purchase)
                messages.success(request, "Purchase request withdrawn.")
            elif action == "retry":
                services.retry_payment(actor=request.user, purchase=purchase)
                messages.success(request, "Payment retried.")
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        return redirect(purchase.get_absolute_url())
    context = {
        "purchase": purchase,
        "decision": selectors.decision_of(purchase),
        "is_admin": has_role(request.user, purchase.org, Role.ADMIN),
        "form": form,
        "entitlement": getattr(purchase, "entitlement", None) if purchase.state == "paid" else None,
    }
    return render(request, "marketplace/purchase_detail.html", context)


@login_required
def approvals(request):
    org = _org(request)
    pending = list(selectors.pending_approvals(request.user, org)) if org else []
    recent = (
        list(selectors.purchases_for_user(request.user).filter(org=org).exclude(state="pending")[:20]) if org else []
    )
    context = {
        "org": org,
        "pending": pending,
        "recent": recent,
        "is_admin": org is not None and has_role(request.user, org, Role.ADMIN),
        "form": DecisionForm(),
    }
    return render(request, "marketplace/approvals.html", context)


@login_required
def spend(request):
    org = _org(request)
    if org is None:
        return redirect("marketplace")
    context = {
        "summary": selectors.spend_summary(request.user, org),
        "pending": list(selectors.pending_approvals(request.user, org)),
        "history": list(selectors.spend_history(request.user, org, limit=50)),
        "purchases": list(selectors.purchases_for_user(request.user).filter(org=org)[:50]),
    }
    return render(request, "marketplace/spend.html", context)


@login_required
def billing_settings(request):
    org = _org(request)
    if org is None:
        return redirect("marketplace")
    is_admin = has_role(request.user, org, Role.ADMIN)
    form = PaymentMethodForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_payment_method(
                actor=request.user, org=org, payment_method_id=form.cleaned_data["payment_method"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Setting up the payment method: this page shows when it is done.")
            return redirect("marketplace-billing")
    account = BillingAccount.objects.filter(org=org).first()
    operation = services.payment_method_operation(account)
    context = {
        "org": org,
        "account": account,
        "operation": operation,
        "live_op": operation if operation is not None and not operation.is_terminal else None,
        "form": form,
        "is_admin": is_admin,
        "provider": billing.provider(),
    }
    if request.htmx and request.method == "GET":
        return render(request, "marketplace/htmx/payment_method.html", context)
    return render(request, "marketplace/billing.html", context)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's webhook: the signature is verified; each event id is processed once.

    It never calls the provider: what needs a look-up there is recorded and left to an operation,
    so Stripe always gets its answer at once.
    """
    try:
        event = billing.parse_webhook(request.body, request.META.get("HTTP_STRIPE_SIGNATURE", ""))
    except billing.WebhookError as exc:
        log.warning("Rejected a Stripe webhook: %s", exc)
        return HttpResponseBadRequest(str(exc))
    outcome = services.handle_event(event)
    log.info("Stripe event %s (%s): %s", event["id"], event["type"], outcome)
    return HttpResponse(outcome, content_type="text/plain")
