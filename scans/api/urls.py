"""The scans API's addresses (scans, sessions, scan profiles); the project URLconf
mounts them under /api/v1/."""

from __future__ import annotations

from django.urls import path

from scans.api import profiles, scans

urlpatterns = [
    path("scans", scans.ScanListCreateApi.as_view(), name="scans"),
    path("scans/stats", scans.ScanStatsApi.as_view(), name="scans-stats"),
    path(
        "scans/schedule-preview", scans.SchedulePreviewApi.as_view(), name="scans-schedule-preview"
    ),
    path("scans/<uuid:scan_id>", scans.ScanDetailApi.as_view(), name="scan-detail"),
    path("scans/<uuid:scan_id>/trigger", scans.ScanTriggerApi.as_view(), name="scan-trigger"),
    path("scans/<uuid:scan_id>/pause", scans.ScanPauseApi.as_view(), name="scan-pause"),
    path("scans/<uuid:scan_id>/activate", scans.ScanActivateApi.as_view(), name="scan-activate"),
    path("scans/<uuid:scan_id>/disable", scans.ScanDisableApi.as_view(), name="scan-disable"),
    path("scans/<uuid:scan_id>/clone", scans.ScanCloneApi.as_view(), name="scan-clone"),
    # The specification's path; it lists the scan's sessions (scans/api/scans.py).
    path("scans/<uuid:scan_id>/runs", scans.ScanSessionListApi.as_view(), name="scan-sessions"),
    path(
        "scan-sessions/<uuid:session_id>", scans.ScanSessionDetailApi.as_view(), name="scan-session"
    ),
    path(
        "scan-sessions/<uuid:session_id>/stop",
        scans.ScanSessionStopApi.as_view(),
        name="scan-session-stop",
    ),
    path(
        "scan-sessions/<uuid:session_id>/retry",
        scans.ScanSessionRetryApi.as_view(),
        name="scan-session-retry",
    ),
    path("scan-profiles", profiles.ScanProfileListCreateApi.as_view(), name="scan-profiles"),
    path(
        "scan-profiles/<uuid:profile_id>",
        profiles.ScanProfileDetailApi.as_view(),
        name="scan-profile-detail",
    ),
    path(
        "scan-profiles/<uuid:profile_id>/clone",
        profiles.ScanProfileCloneApi.as_view(),
        name="scan-profile-clone",
    ),
    path(
        "scan-profiles/<uuid:profile_id>/quality-gate",
        profiles.ScanProfileQualityGateApi.as_view(),
        name="scan-profile-quality-gate",
    ),
    path(
        "scan-profiles/<uuid:profile_id>/evaluate-quality-gate",
        profiles.ScanProfileEvaluateQualityGateApi.as_view(),
        name="scan-profile-evaluate-quality-gate",
    ),
]
