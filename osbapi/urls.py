"""Pages of the OSB broker API: the org's platform credentials (the OSB endpoints are in osb_urls.py)."""

from django.urls import path

from osbapi import pages

urlpatterns = [
    path("", pages.platform_list, name="platform-list"),
    path("<uuid:pk>/revoke/", pages.platform_revoke, name="platform-revoke"),
]
