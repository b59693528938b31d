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

from uuid import UUID

from django.db.models import Count, Q
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

from rediverio.api_auth import Pages, TenantApiView, TenantRequest
from rediverio.models import Role
from rediverio.tenancy import get_for_tenant_or_404
from scans.api import openapi
from scans.api.serializers import (
    DEPRECATED_STATS,
    ScanCloneInputSerializer,
    ScanSerializer,
    ScanSessionSerializer,
    SchedulePreviewInputSerializer,
)
from scans.models import Scan, ScanSession, ScanStatus, SessionStatus
from scans.schedules import Schedule
from scans.services import (
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


class ScansApiView(TenantApiView):
    required_module = "scans"
    write_role = Role.MEMBER


def _scan(request: TenantRequest, scan_id: UUID) -> Scan:
    return get_for_tenant_or_404(Scan.objects.select_related("profile"), request.tenant, scan_id)


def _save_fields(data: dict) -> tuple[dict, list | None]:
    data = dict(data)
    targets = data.pop("targets", None)
    return data, targets


class ScanListCreateApi(ScansApiView):
    @openapi.scans_list
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

    @openapi.scans_create
    def post(self, request: TenantRequest) -> Response:
        body = ScanSerializer(data=request.data, context={"tenant": request.tenant})
        body.is_valid(raise_exception=True)
        fields, targets = _save_fields(body.validated_data)
        scan = scan_create(tenant=request.tenant, by=request.user, targets=targets, **fields)
        return Response(ScanSerializer(scan).data, status=status.HTTP_201_CREATED)


class ScanDetailApi(ScansApiView):
    @openapi.scans_retrieve
    def get(self, request: TenantRequest, scan_id: UUID) -> Response:
        return Response(ScanSerializer(_scan(request, scan_id)).data)

    @openapi.scans_update
    def put(self, request: TenantRequest, scan_id: UUID) -> Response:
        return self._update(request, scan_id, partial=False)

    @openapi.scans_partial_update
    def patch(self, request: TenantRequest, scan_id: UUID) -> Response:
        return self._update(request, scan_id, partial=True)

    def _update(self, request: TenantRequest, scan_id: UUID, *, partial: bool) -> Response:
        scan = _scan(request, scan_id)
        body = ScanSerializer(
            scan, data=request.data, partial=partial, context={"tenant": request.tenant}
        )
        body.is_valid(raise_exception=True)
        fields, targets = _save_fields(body.validated_data)
        scan = scan_update(scan=scan, by=request.user, targets=targets, **fields)
        return Response(ScanSerializer(scan).data)

    @openapi.scans_destroy
    def delete(self, request: TenantRequest, scan_id: UUID) -> Response:
        scan_delete(scan=_scan(request, scan_id), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScanTriggerApi(ScansApiView):
    throttle_classes = [TriggerThrottle]

    @openapi.scans_trigger
    def post(self, request: TenantRequest, scan_id: UUID) -> Response:
        scan = _scan(request, scan_id)
        run = scan_trigger(scan=scan, by=request.user)
        body = {
            "run_id": run.run_id,
            "sessions": ScanSessionSerializer(run.sessions, many=True).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class ScanStatusApi(ScansApiView):
    """Sets the scan's status to `status_to`; its subclasses are the three actions."""

    status_to: ScanStatus

    def post(self, request: TenantRequest, scan_id: UUID) -> Response:
        scan = scan_set_status(scan=_scan(request, scan_id), status=self.status_to, by=request.user)
        return Response(ScanSerializer(scan).data)


class ScanPauseApi(ScanStatusApi):
    status_to = ScanStatus.PAUSED

    @openapi.scans_pause
    def post(self, request: TenantRequest, scan_id: UUID) -> Response:
        return super().post(request, scan_id)


class ScanActivateApi(ScanStatusApi):
    status_to = ScanStatus.ACTIVE

    @openapi.scans_activate
    def post(self, request: TenantRequest, scan_id: UUID) -> Response:
        return super().post(request, scan_id)


class ScanDisableApi(ScanStatusApi):
    status_to = ScanStatus.DISABLED

    @openapi.scans_disable
    def post(self, request: TenantRequest, scan_id: UUID) -> Response:
        return super().post(request, scan_id)


class ScanCloneApi(ScansApiView):
    InputSerializer = ScanCloneInputSerializer

    @openapi.scans_clone
    def post(self, request: TenantRequest, scan_id: UUID) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        clone = scan_clone(
            scan=_scan(request, scan_id), name=body.validated_data.get("name"), by=request.user
        )
        return Response(ScanSerializer(clone).data, status=status.HTTP_201_CREATED)


class ScanSessionListApi(ScansApiView):
    @openapi.scans_runs
    def get(self, request: TenantRequest, scan_id: UUID) -> Response:
        sessions = ScanSession.objects.for_tenant(request.tenant).filter(
            scan=_scan(request, scan_id)
        )
        if value := request.query_params.get("status"):
            sessions = sessions.filter(status=value)
        return Response(
            ScanSessionSerializer(sessions.order_by("-created_at")[:200], many=True).data
        )


class ScanStatsApi(ScansApiView):
    @openapi.scans_stats
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

    InputSerializer = SchedulePreviewInputSerializer

    @openapi.scans_schedule_preview
    def post(self, request: TenantRequest) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        schedule = Schedule.from_fields(data)
        runs = schedule.upcoming(timezone.now(), data["count"])
        return Response([r.isoformat().replace("+00:00", "Z") for r in runs])


def _session(request: TenantRequest, session_id: UUID) -> ScanSession:
    return get_for_tenant_or_404(ScanSession.objects.all(), request.tenant, session_id)


class ScanSessionDetailApi(ScansApiView):
    @openapi.scan_sessions_retrieve
    def get(self, request: TenantRequest, session_id: UUID) -> Response:
        return Response(ScanSessionSerializer(_session(request, session_id)).data)


class ScanSessionStopApi(ScansApiView):
    @openapi.scan_sessions_stop
    def post(self, request: TenantRequest, session_id: UUID) -> Response:
        return Response(
            ScanSessionSerializer(
                session_cancel(session=_session(request, session_id), by=request.user)
            ).data
        )


class ScanSessionRetryApi(ScansApiView):
    @openapi.scan_sessions_retry
    def post(self, request: TenantRequest, session_id: UUID) -> Response:
        retried = session_retry(session=_session(request, session_id), by=request.user)
        return Response(ScanSessionSerializer(retried).data, status=status.HTTP_201_CREATED)
