"""REST API routes of the osbapi app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from osbapi.api import views

router = SimpleRouter()
router.register("platforms", views.PlatformViewSet, basename="platform")

urlpatterns = router.urls
