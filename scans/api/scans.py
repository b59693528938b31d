"""Scan management for users (the `scans` module of a plan).

    GET/POST              /api/v1/scans
    GET                   /api/v1/scans/stats
    POST                  /api/v1/scans/schedule-preview
    GET/PUT/PATCH/DELETE  /api/v1/scans/{id}
    POST                  /api/v1/scans/{id}/trigger | pause | activate | disable | clone
    GET                   /api/v1/scans/{id}/runs
    GET                   /api/v1/scan-sessions/{id}
    POST                  /api/v1/scan-sessions/{id}/stop | retry

The words of README "Scans": a run is one trigger of a scan, a session one tool on one
target within it. `/scans/{id}/runs` keeps the specification's path and lists the scan's
sessions, each naming its run (`run_id`).

Viewers read; members and above create, change and run scans. Which `scanner_config`
keys a member may set is an allow-list (scans/scanner_config.py): the others (host
paths, rule files, raw flags) are an admin's, and a member setting one gets a 400
naming it (`scanner_config.path`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from agents.models import CommandPriority
from findings.models import Asset
from rediverio.api_auth import Pages, TenantApiView, TenantRequest
from rediverio.api_errors import ApiError, error_reply
from rediverio.models import Role
from rediverio.validators import no_null_characters
from scans.models import (
    Scan,
    ScanProfile,
    ScanSession,
    ScanStatus,
    ScheduleType,
    SessionStatus,
)
from scans.schedules import Schedule, ScheduleError
from scans.services import (
    ConcurrencyLimitReached,
    ScanInvalid,
    ScanLimitReached,
    scan_clone,
    scan_create,
    scan_delete,
    scan_set_status,
    scan_trigger,
    scan_update,
    session_cancel,
    session_retry,
)
from scans.throttle import TriggerThrottle

PRIORITIES = {p.label: p.value for p in CommandPriority}


class ScansApiView(TenantApiView):
    required_module = "scans"
    write_role = Role.MEMBER


class PriorityField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=list(PRIORITIES), **kwargs)

    def to_representation(self, value):
        return CommandPriority(value).label

    def to_internal_value(self, data):
        return PRIORITIES[super().to_internal_value(data)]


# A wall-clock time in the schedule's zone, shown with no offset ("02:00:00"). Not
# `format: time`: that is RFC 3339's, which needs an offset.
@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
        "example": "02:00",
    }
)
class TimeOfDayField(serializers.TimeField):
    pass


TOOL_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 100}}


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "oneOf": [
                TOOL_NAMES,
                {
                    "type": "object",
                    "properties": {
                        "tools": TOOL_NAMES,
                        "continue_on_failure": {"type": "boolean"},
                    },
                    "required": ["tools"],
                },
            ]
        },
        "description": "A workflow's stages, run in order: each a list of tools, or "
        '{"tools": […], "continue_on_failure": false}.',
    }
)
class PipelineField(serializers.JSONField):
    def to_internal_value(self, data):
        pipeline = super().to_internal_value(data)
        if not isinstance(pipeline, list) or not all(map(_is_stage, pipeline)):
            raise serializers.ValidationError(
                'a list of stages, each a list of tool names or {"tools": [...], '
                '"continue_on_failure": true|false}.'
            )
        return pipeline


def _is_stage(stage) -> bool:
    if isinstance(stage, dict):
        flag = stage.get("continue_on_failure", False)
        return _is_tool_list(stage.get("tools")) and isinstance(flag, bool)
    return _is_tool_list(stage)


def _is_tool_list(tools) -> bool:
    return isinstance(tools, list) and all(
        isinstance(tool, str) and 0 < len(tool) <= 100 and "\x00" not in tool for tool in tools
    )


class ScanSerializer(serializers.ModelSerializer):
    targets = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Asset.objects.none(), required=False
    )
    profile = serializers.PrimaryKeyRelatedField(
        queryset=ScanProfile.objects.none(), required=False, allow_null=True
    )
    priority = PriorityField(required=False)
    schedule_time = TimeOfDayField(required=False, allow_null=True)
    # A weekday (0 Monday) or a day of the month; any larger is never a schedule.
    schedule_day = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=31
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    pipeline = PipelineField(required=False)
    scanner_config = serializers.DictField(
        required=False,
        validators=[no_null_characters],
        help_text="Settings handed to the scanner. Members may set only the keys that tune "
        "a scan (severity, excludes, a rule set the agents ship…); keys naming files on the "
        "agent's host (path, rule files) or passing flags are set by an admin.",
    )

    class Meta:
        model = Scan
        fields = [
            "id",
            "name",
            "description",
            "scan_type",
            "scanner_name",
            "scanner_config",
            "pipeline",
            "targets",
            "asset_group",
            "profile",
            "schedule_type",
            "schedule_cron",
            "schedule_day",
            "schedule_time",
            "schedule_timezone",
            "tags",
            "run_on_tenant_runner",
            "priority",
            "status",
            "next_run_at",
            "last_run_at",
            "total_runs",
            "successful_runs",
            "failed_runs",
            "canceled_runs",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "next_run_at",
            "last_run_at",
            "total_runs",
            "successful_runs",
            "failed_runs",
            "canceled_runs",
            "created_at",
            "updated_at",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tenant = self.context.get("tenant")
        if tenant is not None:
            self.fields["targets"].child_relation.queryset = Asset.objects.for_tenant(tenant)
            self.fields["profile"].queryset = ScanProfile.objects.for_tenant(tenant)

    def validate_name(self, name: str) -> str:
        name = name.strip()
        clash = Scan.objects.for_tenant(self.context["tenant"]).filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("A scan of this team already has this name.")
        return name


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


class ScanPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ScanSerializer(many=True)


class ScanSessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScanSession
        fields = [
            "id",
            "scan",
            "run_id",
            "trigger",
            "stage",
            "scheduled_for",
            "agent",
            "status",
            "progress",
            "scanner_name",
            "scanner_version",
            "scanner_type",
            "asset",
            "asset_type",
            "asset_value",
            "findings_total",
            "findings_new",
            "findings_fixed",
            "findings_by_severity",
            "quality_gate_result",
            "error_message",
            "created_at",
            "started_at",
            "completed_at",
            "duration_ms",
        ]
        read_only_fields = fields


def _scan(request: TenantRequest, scan_id) -> Scan:
    try:
        return get_object_or_404(
            Scan.objects.for_tenant(request.tenant).select_related("profile"), pk=scan_id
        )
    except ValidationError as exc:
        raise ApiError(404, "NOT_FOUND", "No such scan.") from exc


def _invalid(exc: ScanInvalid) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", str(exc), exc.details)


def _save_fields(data: dict) -> tuple[dict, list | None]:
    data = dict(data)
    targets = data.pop("targets", None)
    return data, targets


class ScanListCreateApi(ScansApiView):
    @extend_schema(
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
    def get(self, request: TenantRequest) -> Response:
        scans = Scan.objects.for_tenant(request.tenant).prefetch_related("targets").order_by("name")
        for name in ("status", "scan_type", "schedule_type"):
            if value := request.query_params.get(name):
                scans = scans.filter(**{name: value})
        if search := request.query_params.get("search"):
            scans = scans.filter(Q(name__icontains=search) | Q(scanner_name__icontains=search))
        pages = Pages()
        page = pages.paginate_queryset(scans, request, view=self)
        return pages.get_paginated_response(ScanSerializer(page, many=True).data)

    @extend_schema(
        operation_id="scans_create",
        tags=["scans"],
        summary="Create a scan definition",
        request=ScanSerializer,
        responses={201: ScanSerializer},
        examples=[OpenApiExample("Nightly semgrep", request_only=True, value=SCAN_EXAMPLE)],
    )
    def post(self, request: TenantRequest) -> Response:
        body = ScanSerializer(data=request.data, context={"tenant": request.tenant})
        body.is_valid(raise_exception=True)
        fields, targets = _save_fields(body.validated_data)
        try:
            scan = scan_create(tenant=request.tenant, by=request.user, targets=targets, **fields)
        except ScanInvalid as exc:
            raise _invalid(exc) from exc
        except ScanLimitReached as exc:
            raise ApiError(403, "PLAN_LIMIT", str(exc)) from exc
        return Response(ScanSerializer(scan).data, status=status.HTTP_201_CREATED)


class ScanDetailApi(ScansApiView):
    @extend_schema(
        operation_id="scans_retrieve", tags=["scans"], summary="A scan", responses=ScanSerializer
    )
    def get(self, request: TenantRequest, scan_id) -> Response:
        return Response(ScanSerializer(_scan(request, scan_id)).data)

    @extend_schema(
        operation_id="scans_update",
        tags=["scans"],
        summary="Replace a scan definition",
        request=ScanSerializer,
        responses=ScanSerializer,
    )
    def put(self, request: TenantRequest, scan_id) -> Response:
        return self._update(request, scan_id, partial=False)

    @extend_schema(
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
    def patch(self, request: TenantRequest, scan_id) -> Response:
        return self._update(request, scan_id, partial=True)

    def _update(self, request: TenantRequest, scan_id, *, partial: bool) -> Response:
        scan = _scan(request, scan_id)
        body = ScanSerializer(
            scan, data=request.data, partial=partial, context={"tenant": request.tenant}
        )
        body.is_valid(raise_exception=True)
        fields, targets = _save_fields(body.validated_data)
        try:
            scan = scan_update(scan=scan, by=request.user, targets=targets, **fields)
        except ScanInvalid as exc:
            raise _invalid(exc) from exc
        return Response(ScanSerializer(scan).data)

    @extend_schema(
        operation_id="scans_destroy",
        tags=["scans"],
        summary="Delete a scan and its runs",
        responses={204: None},
    )
    def delete(self, request: TenantRequest, scan_id) -> Response:
        scan_delete(scan=_scan(request, scan_id), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunStartedSerializer(serializers.Serializer):
    run_id = serializers.UUIDField()
    sessions = ScanSessionSerializer(many=True)


class ScanTriggerApi(ScansApiView):
    throttle_classes = [TriggerThrottle]

    @extend_schema(
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
    def post(self, request: TenantRequest, scan_id) -> Response:
        scan = _scan(request, scan_id)
        try:
            run = scan_trigger(scan=scan, by=request.user)
        except ScanInvalid as exc:
            raise _invalid(exc) from exc
        except ConcurrencyLimitReached as exc:
            raise ApiError(409, "CONCURRENCY_LIMIT", str(exc)) from exc
        body = {
            "run_id": run.run_id,
            "sessions": ScanSessionSerializer(run.sessions, many=True).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


def _status_view(action: str, target: str, summary: str):
    class StatusApi(ScansApiView):
        @extend_schema(
            operation_id=f"scans_{action}",
            tags=["scans"],
            summary=summary,
            request=None,
            responses=ScanSerializer,
        )
        def post(self, request: TenantRequest, scan_id) -> Response:
            scan = scan_set_status(scan=_scan(request, scan_id), status=target, by=request.user)
            return Response(ScanSerializer(scan).data)

    StatusApi.__name__ = f"Scan{action.capitalize()}Api"
    return StatusApi


ScanPauseApi = _status_view("pause", ScanStatus.PAUSED, "Pause scheduled runs")
ScanActivateApi = _status_view("activate", ScanStatus.ACTIVE, "Resume scheduled runs")
ScanDisableApi = _status_view("disable", ScanStatus.DISABLED, "Disable a scan")


class ScanCloneApi(ScansApiView):
    @extend_schema_serializer(component_name="ScanCloneRequest")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(required=False, max_length=200)

    @extend_schema(
        operation_id="scans_clone",
        tags=["scans"],
        summary="Copy a scan definition",
        request=InputSerializer,
        responses={201: ScanSerializer},
    )
    def post(self, request: TenantRequest, scan_id) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            clone = scan_clone(
                scan=_scan(request, scan_id), name=body.validated_data.get("name"), by=request.user
            )
        except ScanLimitReached as exc:
            raise ApiError(403, "PLAN_LIMIT", str(exc)) from exc
        return Response(ScanSerializer(clone).data, status=status.HTTP_201_CREATED)


class ScanSessionListApi(ScansApiView):
    @extend_schema(
        operation_id="scans_runs",
        tags=["scans"],
        summary="A scan's sessions, newest first; each names its run (run_id)",
        parameters=[OpenApiParameter("status", str, enum=SessionStatus.values)],
        responses=ScanSessionSerializer(many=True),
    )
    def get(self, request: TenantRequest, scan_id) -> Response:
        sessions = ScanSession.objects.for_tenant(request.tenant).filter(
            scan=_scan(request, scan_id)
        )
        if value := request.query_params.get("status"):
            sessions = sessions.filter(status=value)
        return Response(
            ScanSessionSerializer(sessions.order_by("-created_at")[:200], many=True).data
        )


# `runs_*` counted sessions under a name that says runs: kept for the clients that read
# them, equal to `sessions_*`, and marked deprecated in the schema.
DEPRECATED_STATS = {
    "runs_total": "sessions_total",
    "runs_active": "sessions_active",
    "runs_completed": "sessions_completed",
    "runs_failed": "sessions_failed",
}


@extend_schema_serializer(deprecate_fields=list(DEPRECATED_STATS))
class ScanStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    active = serializers.IntegerField()
    paused = serializers.IntegerField()
    disabled = serializers.IntegerField()
    sessions_total = serializers.IntegerField()
    sessions_active = serializers.IntegerField(help_text="Sessions pending or running.")
    sessions_completed = serializers.IntegerField()
    sessions_failed = serializers.IntegerField()
    runs_total = serializers.IntegerField(help_text="Deprecated: sessions_total.")
    runs_active = serializers.IntegerField(help_text="Deprecated: sessions_active.")
    runs_completed = serializers.IntegerField(help_text="Deprecated: sessions_completed.")
    runs_failed = serializers.IntegerField(help_text="Deprecated: sessions_failed.")


class ScanStatsApi(ScansApiView):
    @extend_schema(
        operation_id="scans_stats",
        tags=["scans"],
        summary="Scans by status and sessions by status (two aggregate queries)",
        responses=ScanStatsSerializer,
    )
    def get(self, request: TenantRequest) -> Response:
        scans = Scan.objects.for_tenant(request.tenant).aggregate(
            total=Count("id"),
            **{s: Count("id", filter=Q(status=s)) for s in ScanStatus.values},
        )
        sessions = ScanSession.objects.for_tenant(request.tenant).aggregate(
            sessions_total=Count("id"),
            sessions_active=Count(
                "id", filter=Q(status__in=[SessionStatus.PENDING, SessionStatus.RUNNING])
            ),
            sessions_completed=Count("id", filter=Q(status=SessionStatus.COMPLETED)),
            sessions_failed=Count("id", filter=Q(status=SessionStatus.FAILED)),
        )
        deprecated = {old: sessions[new] for old, new in DEPRECATED_STATS.items()}
        return Response({**scans, **sessions, **deprecated})


class SchedulePreviewApi(ScansApiView):
    write_role = Role.VIEWER  # a preview changes nothing

    @extend_schema_serializer(component_name="SchedulePreviewRequest")
    class InputSerializer(serializers.Serializer):
        schedule_type = serializers.ChoiceField(choices=ScheduleType.choices)
        schedule_time = TimeOfDayField(required=False, allow_null=True)
        schedule_day = serializers.IntegerField(
            required=False, allow_null=True, min_value=0, max_value=31
        )
        schedule_cron = serializers.CharField(required=False, allow_blank=True)
        schedule_timezone = serializers.CharField(required=False, default="UTC")
        count = serializers.IntegerField(required=False, default=5, min_value=1, max_value=20)

    @extend_schema(
        operation_id="scans_schedule_preview",
        tags=["scans"],
        summary="The next run times of a schedule",
        request=InputSerializer,
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
    def post(self, request: TenantRequest) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        schedule = Schedule.from_fields(data)
        try:
            runs = schedule.upcoming(timezone.now(), data["count"])
        except ScheduleError as exc:
            raise ApiError(400, "VALIDATION_ERROR", str(exc), {exc.field: [exc.message]}) from exc
        return Response([r.isoformat().replace("+00:00", "Z") for r in runs])


def _session(request: TenantRequest, session_id) -> ScanSession:
    try:
        return get_object_or_404(ScanSession.objects.for_tenant(request.tenant), pk=session_id)
    except ValidationError as exc:
        raise ApiError(404, "NOT_FOUND", "No such session.") from exc


class ScanSessionDetailApi(ScansApiView):
    @extend_schema(
        operation_id="scan_sessions_retrieve",
        tags=["scans"],
        summary="A scan session",
        responses=ScanSessionSerializer,
    )
    def get(self, request: TenantRequest, session_id) -> Response:
        return Response(ScanSessionSerializer(_session(request, session_id)).data)


class ScanSessionStopApi(ScansApiView):
    @extend_schema(
        operation_id="scan_sessions_stop",
        tags=["scans"],
        summary="Stop a session (its agent is told to cancel)",
        request=None,
        responses=ScanSessionSerializer,
    )
    def post(self, request: TenantRequest, session_id) -> Response:
        return Response(
            ScanSessionSerializer(
                session_cancel(session=_session(request, session_id), by=request.user)
            ).data
        )


class ScanSessionRetryApi(ScansApiView):
    @extend_schema(
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
    def post(self, request: TenantRequest, session_id) -> Response:
        try:
            retried = session_retry(session=_session(request, session_id), by=request.user)
        except ScanInvalid as exc:
            raise ApiError(409, "NOT_FINISHED", str(exc)) from exc
        except ConcurrencyLimitReached as exc:
            raise ApiError(409, "CONCURRENCY_LIMIT", str(exc)) from exc
        return Response(ScanSessionSerializer(retried).data, status=status.HTTP_201_CREATED)
