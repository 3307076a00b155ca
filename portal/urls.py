from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("orgs/switch/", views.switch_org, name="org-switch"),
    path("org/", views.org_settings, name="org-settings"),
    path("org/audit/", views.org_audit, name="org-audit"),
    path("org/members/<int:pk>/", views.member_change, name="member-change"),
    path("org/check-workers/", views.check_workers, name="check-workers"),
    path("operations/", views.operation_list, name="operation-list"),
    path("operations/<uuid:pk>/", views.operation_detail, name="operation-detail"),
    path("operations/<uuid:pk>/cancel/", views.operation_cancel, name="operation-cancel"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/badge/", views.inbox_badge, name="inbox-badge"),
    path("inbox/read/", views.inbox_read, name="inbox-read-all"),
    path("inbox/<int:pk>/read/", views.inbox_read, name="inbox-read"),
    path("settings/", views.user_settings, name="user-settings"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("catalog/", include("catalog.urls")),
    path("instances/", include("instances.urls")),
    path("marketplace/", include("marketplace.urls")),
    path("osb/v2/", include("osbapi.osb_urls")),
    path("platforms/", include("osbapi.urls")),
    path("api/v1/", include(("portal.api.urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler400 = "portal.views.error_400"
handler403 = "portal.views.error_403"
handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"
