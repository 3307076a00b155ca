"""REST API routes of the marketplace app, mounted under /api/v1/."""

urlpatterns: list = []
