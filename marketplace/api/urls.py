"""REST API routes of the marketplace app, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from marketplace.api import views

router = SimpleRouter()
router.register("listings", views.ListingViewSet, basename="listing")
router.register("purchases", views.PurchaseViewSet, basename="purchase")

urlpatterns = [
    path("orgs/<slug:org_slug>/spend/", views.SpendView.as_view(), name="org-spend"),
    path("orgs/<slug:org_slug>/billing/", views.BillingView.as_view(), name="org-billing"),
    *router.urls,
]
