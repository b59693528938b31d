from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import findings.urls
import scans.urls
from rediverio import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("team/", views.tenant_switch, name="tenant-switch"),
    path("scans/", include("scans.urls")),
    path("profiles/", include((scans.urls.profile_urlpatterns, "profiles"))),
    path("findings/", include("findings.urls")),
    path("assets/", include((findings.urls.asset_urlpatterns, "assets"))),
    path("agents/", include("agents.urls")),
    path("audit/", views.audit_log, name="audit-log"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's init script as a file (GET ?script=), not inline:
    # the Content-Security-Policy runs scripts only from this origin's files.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("agents.api.urls")),
    path("api/v1/", include("ingest.api.urls")),
    path("api/v1/", include("scans.api.urls")),
]

handler400 = "rediverio.api_errors.bad_request"
handler404 = "rediverio.views.not_found"
handler500 = "rediverio.api_errors.server_error"

admin.site.site_header = "Rediverio operations"
admin.site.site_title = "Rediverio admin"
