from django.urls import path

from marketplace import views

urlpatterns = [
    path("", views.marketplace_index, name="marketplace"),
    path("approvals/", views.approvals, name="approvals"),
    path("spend/", views.spend, name="marketplace-spend"),
    path("billing/", views.billing_settings, name="marketplace-billing"),
    path("sell/", views.listing_new, name="marketplace-sell"),
    path("purchases/<uuid:pk>/", views.purchase_detail, name="marketplace-purchase"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe-webhook"),
    path("<slug:slug>/", views.listing_detail, name="marketplace-listing"),
    path("<slug:slug>/<str:action>/", views.listing_action, name="marketplace-listing-action"),
]
