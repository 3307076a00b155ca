"""REST API routes of the instances app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from instances.api import views

router = SimpleRouter()
router.register("clusters", views.ClusterViewSet, basename="cluster")
router.register("instances", views.InstanceViewSet, basename="instance")
router.register("shared-instances", views.SharedInstanceViewSet, basename="shared-instance")
router.register("bindings", views.BindingViewSet, basename="binding")

urlpatterns = router.urls
