"""The OpenAPI documentation of the scans API: summaries, parameters, replies and examples
of each operation, kept apart so that a reader of scans/api/scans.py and
scans/api/profiles.py sees the behaviour. One name per operation, grouped by view in the
order of the views; each view method is decorated with its own.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers

from rediverio.api_errors import error_reply
from scans.api.serializers import (
    GateResultSerializer,
    QualityGateSerializer,
    RunStartedSerializer,
    ScanCloneInputSerializer,
    ScanPageSerializer,
    ScanProfileCloneInputSerializer,
    ScanProfileEvaluateInputSerializer,
    ScanProfilePageSerializer,
    ScanProfileSerializer,
    ScanSerializer,
    ScanSessionSerializer,
    ScanStatsSerializer,
    SchedulePreviewInputSerializer,
)
from scans.models import ScanStatus, SessionStatus

# Scans (scans/api/scans.py)

SCAN_EXAMPLE = {
    "name": "Nightly SAST",
    "description": "semgrep on every service",
    "scan_type": "single",
    "scanner_name": "semgrep",
    "scanner_config": {},
    "targets": ["0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f"],
    "schedule_type": "daily",
    "schedule_time": "02:00",
    "schedule_timezone": "Europe/Paris",
    "tags": ["region=eu"],
    "priority": "normal",
}

# ScanListCreateApi

scans_list = extend_schema(
    operation_id="scans_list",
    tags=["scans"],
    summary="List the team's scans",
    parameters=[
        OpenApiParameter("status", str, enum=ScanStatus.values),
        OpenApiParameter("scan_type", str, enum=["single", "workflow"]),
        OpenApiParameter("schedule_type", str),
        OpenApiParameter("search", str, description="In name and scanner"),
        OpenApiParameter("limit", int),
        OpenApiParameter("offset", int),
    ],
    responses={200: ScanPageSerializer},
)

scans_create = extend_schema(
    operation_id="scans_create",
    tags=["scans"],
    summary="Create a scan definition",
    request=ScanSerializer,
    responses={201: ScanSerializer},
    examples=[OpenApiExample("Nightly semgrep", request_only=True, value=SCAN_EXAMPLE)],
)

# ScanDetailApi

scans_retrieve = extend_schema(
    operation_id="scans_retrieve", tags=["scans"], summary="A scan", responses=ScanSerializer
)

scans_update = extend_schema(
    operation_id="scans_update",
    tags=["scans"],
    summary="Replace a scan definition",
    request=ScanSerializer,
    responses=ScanSerializer,
)

scans_partial_update = extend_schema(
    operation_id="scans_partial_update",
    tags=["scans"],
    summary="Change some of a scan's settings",
    request=ScanSerializer,
    responses=ScanSerializer,
    examples=[
        OpenApiExample(
            "Weekly",
            request_only=True,
            value={"schedule_type": "weekly", "schedule_day": 0, "schedule_time": "03:00"},
        )
    ],
)

scans_destroy = extend_schema(
    operation_id="scans_destroy",
    tags=["scans"],
    summary="Delete a scan and its runs",
    responses={204: None},
)

# ScanTriggerApi

scans_trigger = extend_schema(
    operation_id="scans_trigger",
    tags=["scans"],
    summary="Run a scan now",
    request=None,
    responses={
        201: RunStartedSerializer,
        400: error_reply("The scan cannot run as it is, e.g. it has no target."),
        409: error_reply("The team runs its most scans at once (CONCURRENCY_LIMIT)."),
    },
)

# ScanPauseApi, ScanActivateApi, ScanDisableApi

scans_pause = extend_schema(
    operation_id="scans_pause",
    tags=["scans"],
    summary="Pause scheduled runs",
    request=None,
    responses=ScanSerializer,
)

scans_activate = extend_schema(
    operation_id="scans_activate",
    tags=["scans"],
    summary="Resume scheduled runs",
    request=None,
    responses=ScanSerializer,
)

scans_disable = extend_schema(
    operation_id="scans_disable",
    tags=["scans"],
    summary="Disable a scan",
    request=None,
    responses=ScanSerializer,
)

# ScanCloneApi

scans_clone = extend_schema(
    operation_id="scans_clone",
    tags=["scans"],
    summary="Copy a scan definition",
    request=ScanCloneInputSerializer,
    responses={201: ScanSerializer},
)

# ScanSessionListApi

scans_runs = extend_schema(
    operation_id="scans_runs",
    tags=["scans"],
    summary="A scan's sessions, newest first; each names its run (run_id)",
    parameters=[OpenApiParameter("status", str, enum=SessionStatus.values)],
    responses=ScanSessionSerializer(many=True),
)

# ScanStatsApi

scans_stats = extend_schema(
    operation_id="scans_stats",
    tags=["scans"],
    summary="Scans by status and sessions by status (two aggregate queries)",
    responses=ScanStatsSerializer,
)

# SchedulePreviewApi

scans_schedule_preview = extend_schema(
    operation_id="scans_schedule_preview",
    tags=["scans"],
    summary="The next run times of a schedule",
    request=SchedulePreviewInputSerializer,
    responses={200: serializers.ListSerializer(child=serializers.DateTimeField())},
    examples=[
        OpenApiExample(
            "Weekdays at 9",
            request_only=True,
            value={
                "schedule_type": "crontab",
                "schedule_cron": "0 9 * * 1-5",
                "schedule_timezone": "Europe/Paris",
            },
        )
    ],
)

# ScanSessionDetailApi

scan_sessions_retrieve = extend_schema(
    operation_id="scan_sessions_retrieve",
    tags=["scans"],
    summary="A scan session",
    responses=ScanSessionSerializer,
)

# ScanSessionStopApi

scan_sessions_stop = extend_schema(
    operation_id="scan_sessions_stop",
    tags=["scans"],
    summary="Stop a session (its agent is told to cancel)",
    request=None,
    responses=ScanSessionSerializer,
)

# ScanSessionRetryApi

scan_sessions_retry = extend_schema(
    operation_id="scan_sessions_retry",
    tags=["scans"],
    summary="Run a finished session's tool on its target again",
    request=None,
    responses={
        201: ScanSessionSerializer,
        409: error_reply(
            "The session is not finished or was retried already (NOT_FINISHED), or its "
            "profile runs as many scans as it may (CONCURRENCY_LIMIT)."
        ),
    },
)

# Scan profiles (scans/api/profiles.py)

PROFILES_TAG = "scan profiles"

GATE_EXAMPLE = {
    "enabled": True,
    "fail_on_critical": True,
    "fail_on_high": False,
    "max_critical": -1,
    "max_high": 5,
    "max_medium": -1,
    "max_total": 50,
    "new_findings_only": False,
}
PROFILE_EXAMPLE = {
    "id": "0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f",
    "name": "Nightly SAST",
    "description": "Semgrep and bandit on every repository, every night.",
    "tools_config": {
        "semgrep": {"enabled": True, "severity": "medium", "timeout": 1800, "options": {}},
        "bandit": {"enabled": True, "severity": "low", "timeout": 900, "options": {}},
    },
    "intensity": "medium",
    "max_concurrent_scans": 5,
    "timeout_seconds": 3600,
    "tags": ["python", "sast"],
    "quality_gate": GATE_EXAMPLE,
    "is_default": False,
    "is_system": False,
    "created_at": "2026-11-01T09:00:00Z",
    "updated_at": "2026-11-26T12:00:00Z",
}
NEW_PROFILE_EXAMPLE = {
    "name": "Nightly SAST",
    "description": "Semgrep and bandit on every repository, every night.",
    "tools_config": {
        "semgrep": {"enabled": True, "severity": "medium", "timeout": 1800},
        "bandit": {"enabled": True},
    },
    "intensity": "medium",
    "tags": ["python", "sast"],
    "quality_gate": {"enabled": True, "fail_on_critical": True, "max_total": 50},
}

# ScanProfileListCreateApi

scan_profiles_list = extend_schema(
    operation_id="scan_profiles_list",
    tags=[PROFILES_TAG],
    summary="List the team's scan profiles, the default first",
    parameters=[
        OpenApiParameter("is_system", bool, description="Only system (or only own) ones"),
        OpenApiParameter("search", str, description="In the name"),
        OpenApiParameter("limit", int),
        OpenApiParameter("offset", int),
    ],
    responses={200: ScanProfilePageSerializer},
    examples=[
        OpenApiExample(
            "Profiles",
            response_only=True,
            value={"count": 1, "next": None, "previous": None, "results": [PROFILE_EXAMPLE]},
        )
    ],
)

scan_profiles_create = extend_schema(
    operation_id="scan_profiles_create",
    tags=[PROFILES_TAG],
    summary="Create a scan profile; is_default makes it the team's default",
    request=ScanProfileSerializer,
    responses={201: ScanProfileSerializer},
    examples=[
        OpenApiExample("New profile", request_only=True, value=NEW_PROFILE_EXAMPLE),
        OpenApiExample("Created", response_only=True, value=PROFILE_EXAMPLE),
    ],
)

# ScanProfileDetailApi

scan_profiles_retrieve = extend_schema(
    operation_id="scan_profiles_retrieve",
    tags=[PROFILES_TAG],
    summary="A scan profile",
    responses=ScanProfileSerializer,
    examples=[OpenApiExample("Profile", response_only=True, value=PROFILE_EXAMPLE)],
)

scan_profiles_update = extend_schema(
    operation_id="scan_profiles_update",
    tags=[PROFILES_TAG],
    summary="Replace a profile's settings (not a system profile's)",
    request=ScanProfileSerializer,
    responses=ScanProfileSerializer,
    examples=[
        OpenApiExample("Replace", request_only=True, value=NEW_PROFILE_EXAMPLE),
        OpenApiExample("Replaced", response_only=True, value=PROFILE_EXAMPLE),
    ],
)

scan_profiles_partial_update = extend_schema(
    operation_id="scan_profiles_partial_update",
    tags=[PROFILES_TAG],
    summary="Change some of a profile's settings, e.g. make it the default",
    request=ScanProfileSerializer,
    responses=ScanProfileSerializer,
    examples=[
        OpenApiExample("Make default", request_only=True, value={"is_default": True}),
        OpenApiExample(
            "Changed", response_only=True, value={**PROFILE_EXAMPLE, "is_default": True}
        ),
    ],
)

scan_profiles_destroy = extend_schema(
    operation_id="scan_profiles_destroy",
    tags=[PROFILES_TAG],
    summary="Delete a profile no scan uses (not a system profile)",
    responses={204: None, 409: error_reply("Scans use it (PROFILE_IN_USE).")},
)

# ScanProfileCloneApi

scan_profiles_clone = extend_schema(
    operation_id="scan_profiles_clone",
    tags=[PROFILES_TAG],
    summary="Copy a profile, system ones included, into one the team owns",
    request=ScanProfileCloneInputSerializer,
    responses={201: ScanProfileSerializer},
    examples=[
        OpenApiExample("Named copy", request_only=True, value={"name": "Full, weekly"}),
        OpenApiExample(
            "Copied",
            response_only=True,
            value={**PROFILE_EXAMPLE, "name": "Nightly SAST (copy)"},
        ),
    ],
)

# ScanProfileQualityGateApi

scan_profiles_quality_gate_update = extend_schema(
    operation_id="scan_profiles_quality_gate_update",
    tags=[PROFILES_TAG],
    summary="Replace a profile's quality gate; fields left out take their defaults",
    request=QualityGateSerializer,
    responses=ScanProfileSerializer,
    examples=[
        OpenApiExample(
            "No critical, at most 5 high",
            request_only=True,
            value={"enabled": True, "fail_on_critical": True, "max_high": 5},
        ),
        OpenApiExample("Profile", response_only=True, value=PROFILE_EXAMPLE),
    ],
)

# ScanProfileEvaluateQualityGateApi

scan_profiles_quality_gate_evaluate = extend_schema(
    operation_id="scan_profiles_quality_gate_evaluate",
    tags=[PROFILES_TAG],
    summary="Check finding counts against a profile's quality gate",
    request=ScanProfileEvaluateInputSerializer,
    responses={
        200: GateResultSerializer,
        409: error_reply("The stored gate is invalid (INVALID_QUALITY_GATE)."),
    },
    examples=[
        OpenApiExample(
            "Counts",
            request_only=True,
            value={
                "by_severity": {"critical": 1, "high": 2, "medium": 7, "low": 3},
                "new_by_severity": {"critical": 1},
            },
        ),
        OpenApiExample(
            "Failed",
            response_only=True,
            value={
                "passed": False,
                "reason": "quality gate failed: 1 critical (limit 0)",
                "breaches": [{"metric": "critical", "limit": 0, "actual": 1}],
            },
        ),
    ],
)
