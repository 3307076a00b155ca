from django.urls import path

from marketplace import views

urlpatterns = [
    path("", views.marketplace_index, name="marketplace"),
    path("approvals/", views.approvals, name="approvals"),
]
