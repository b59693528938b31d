from __future__ import annotations

from django.urls import include, path

from scans.api import scans

urlpatterns = [
    path("scans", scans.ScanListCreateApi.as_view(), name="scans"),
    path("scans/stats", scans.ScanStatsApi.as_view(), name="scans-stats"),
    path(
        "scans/schedule-preview", scans.SchedulePreviewApi.as_view(), name="scans-schedule-preview"
    ),
    path("scans/<str:scan_id>", scans.ScanDetailApi.as_view(), name="scan-detail"),
    path("scans/<str:scan_id>/trigger", scans.ScanTriggerApi.as_view(), name="scan-trigger"),
    path("scans/<str:scan_id>/pause", scans.ScanPauseApi.as_view(), name="scan-pause"),
    path("scans/<str:scan_id>/activate", scans.ScanActivateApi.as_view(), name="scan-activate"),
    path("scans/<str:scan_id>/disable", scans.ScanDisableApi.as_view(), name="scan-disable"),
    path("scans/<str:scan_id>/clone", scans.ScanCloneApi.as_view(), name="scan-clone"),
    # The specification's path; it lists the scan's sessions (scans/api/scans.py).
    path("scans/<str:scan_id>/runs", scans.ScanSessionListApi.as_view(), name="scan-sessions"),
    path(
        "scan-sessions/<str:session_id>", scans.ScanSessionDetailApi.as_view(), name="scan-session"
    ),
    path(
        "scan-sessions/<str:session_id>/stop",
        scans.ScanSessionStopApi.as_view(),
        name="scan-session-stop",
    ),
    path(
        "scan-sessions/<str:session_id>/retry",
        scans.ScanSessionRetryApi.as_view(),
        name="scan-session-retry",
    ),
    path("", include("scans.api.profile_urls")),
]
