"""Scan profile routes; the project URLconf mounts them under /api/v1/."""

from __future__ import annotations

from django.urls import path

from scans.api import profiles

urlpatterns = [
    path("scan-profiles", profiles.ScanProfileListCreateApi.as_view(), name="scan-profiles"),
    path(
        "scan-profiles/<str:profile_id>",
        profiles.ScanProfileDetailApi.as_view(),
        name="scan-profile-detail",
    ),
    path(
        "scan-profiles/<str:profile_id>/clone",
        profiles.ScanProfileCloneApi.as_view(),
        name="scan-profile-clone",
    ),
    path(
        "scan-profiles/<str:profile_id>/quality-gate",
        profiles.ScanProfileQualityGateApi.as_view(),
        name="scan-profile-quality-gate",
    ),
    path(
        "scan-profiles/<str:profile_id>/evaluate-quality-gate",
        profiles.ScanProfileEvaluateQualityGateApi.as_view(),
        name="scan-profile-evaluate-quality-gate",
    ),
]
