from django.urls import include, path
from rest_framework.routers import DefaultRouter

from portal.api import views

router = DefaultRouter(trailing_slash=True)
router.register("orgs", views.OrganizationViewSet, basename="org")
router.register(r"orgs/(?P<org_slug>[a-z0-9-]+)/teams", views.TeamViewSet, basename="org-team")
router.register(r"orgs/(?P<org_slug>[a-z0-9-]+)/members", views.MemberViewSet, basename="org-member")
router.register("operations", views.OperationViewSet, basename="operation")
router.register("notifications", views.NotificationViewSet, basename="notification")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("tokens", views.ApiTokenViewSet, basename="token")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("", include(router.urls)),
    path("", include("catalog.api.urls")),
    path("", include("instances.api.urls")),
    path("", include("marketplace.api.urls")),
    path("", include("osbapi.api.urls")),
]
