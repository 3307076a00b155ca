"""REST API routes of the catalog app, mounted under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from catalog.api import broker_views, views

router = SimpleRouter(trailing_slash=True)
router.register("types", views.TypeViewSet, basename="type")
router.register(r"types/(?P<type_slug>[a-z0-9-]+)/versions", views.VersionViewSet, basename="type-version")
router.register(r"types/(?P<type_slug>[a-z0-9-]+)/plans", views.PlanViewSet, basename="type-plan")
router.register("registered-services", views.RegisteredServiceViewSet, basename="registered-service")
router.register("brokers", broker_views.BrokerViewSet, basename="broker")

urlpatterns = [path("", include(router.urls))]
