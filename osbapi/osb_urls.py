"""The OSB API v2.17, mounted at /osb/v2/ (a platform registers ``<site>/osb`` as the broker URL)."""

from django.urls import path, re_path

from osbapi import views

urlpatterns = [
    path("catalog", views.catalog, name="osb-catalog"),
    path("service_instances/<str:instance_id>", views.instance, name="osb-instance"),
    path("service_instances/<str:instance_id>/last_operation", views.instance_last_operation, name="osb-last-op"),
    path("service_instances/<str:instance_id>/service_bindings/<str:binding_id>", views.binding, name="osb-binding"),
    path(
        "service_instances/<str:instance_id>/service_bindings/<str:binding_id>/last_operation",
        views.binding_last_operation,
        name="osb-binding-last-op",
    ),
    re_path(r"^[\s\S]*$", views.not_found, name="osb-not-found"),  # in OSB's error format, not the API's
]
