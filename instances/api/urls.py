"""REST API routes of the instances app, mounted under /api/v1/."""

urlpatterns: list = []
