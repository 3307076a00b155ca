"""The OSB API v2.17, mounted at /osb/v2/ (a platform registers ``<site>/osb`` as the broker URL).

Everything under ``service_instances/`` is one route (``views.service_instances`` finds the endpoint and
the ids), so that instance and binding ids may hold ``/`` (spec, "URL Properties": "this specification
places no restriction on the set of characters used within these strings").
"""

from django.urls import path, re_path

from osbapi import views

urlpatterns = [
    path("catalog", views.catalog, name="osb-catalog"),
    re_path(r"^service_instances/(?P<rest>[\s\S]+)$", views.service_instances, name="osb-service-instances"),
    re_path(r"^[\s\S]*$", views.not_found, name="osb-not-found"),  # in OSB's error format, not the API's
]
