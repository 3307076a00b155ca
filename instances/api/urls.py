"""REST API routes of the instances app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from instances.api import views

router = SimpleRouter()
router.register("clusters", views.ClusterViewSet, basename="cluster")

urlpatterns = router.urls
