"""Reads on scans and sessions, always scoped to one tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone

from agents.models import Command, CommandEvent, CommandStatus
from findings.models import Severity
from rediverio.models import Tenant
from scans.models import (
    Scan,
    ScanSession,
    ScanStatus,
    SessionStatus,
)

ACTIVE_SESSION_STATUSES = (SessionStatus.PENDING, SessionStatus.RUNNING)


def scans_by_status(*, tenant: Tenant) -> dict[str, int]:
    counts = dict(Scan.objects.for_tenant(tenant).values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in ScanStatus.values}


# ------------------------------------------------------------------ the scans pages
# Each list page reads a fixed number of queries, whatever its number of rows: one
# aggregate for its stat cards, one query for its rows (related rows joined in).

RUN_LIST_LIMIT = 50


def describe_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def session_duration(session: ScanSession, now: datetime | None = None) -> str:
    """How long a session ran; a running one counts up to now."""
    if session.duration_ms is not None:
        return describe_duration(session.duration_ms / 1000)
    if session.started_at is None:
        return "—"
    end = session.completed_at or now or timezone.now()
    return describe_duration((end - session.started_at).total_seconds())


@dataclass(frozen=True)
class ScanRow:
    scan: Scan
    tools: list[str]
    schedule: str
    last_run_status: str | None


@dataclass(frozen=True)
class RunRow:
    session: ScanSession
    duration: str


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    status: str
    label: str
    message: str = ""


@dataclass(frozen=True)
class RunDetail:
    session: ScanSession
    duration: str
    commands: list[Command]
    timeline: list[TimelineEntry]
    log: list[CommandEvent]
    severities: list[tuple[str, int]] = field(default_factory=list)


def scan_stats(*, tenant: Tenant) -> dict[str, int]:
    """The Configurations tab's cards, in one aggregate."""
    return Scan.objects.for_tenant(tenant).aggregate(
        total=Count("id"),
        **{status: Count("id", filter=Q(status=status)) for status in ScanStatus.values},
    )


def scan_list(*, tenant: Tenant) -> list[ScanRow]:
    """The tenant's scans with their last run's status: one query."""
    last_status = (
        ScanSession.objects.filter(scan=OuterRef("pk")).order_by("-created_at").values("status")[:1]
    )
    scans = Scan.objects.for_tenant(tenant).annotate(last_run_status=Subquery(last_status))
    return [
        ScanRow(
            scan=scan,
            tools=list(dict.fromkeys(tool for stage in scan.stages for tool in stage["tools"])),
            schedule=scan.schedule.describe(),
            last_run_status=scan.last_run_status,
        )
        for scan in scans.order_by("name")
    ]


def scan_for_tenant(*, tenant: Tenant, scan_id) -> Scan | None:
    return Scan.objects.for_tenant(tenant).select_related("profile").filter(pk=scan_id).first()


def run_stats(*, tenant: Tenant) -> dict[str, int]:
    """The Runs tab's cards, in one aggregate."""
    return ScanSession.objects.for_tenant(tenant).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status__in=ACTIVE_SESSION_STATUSES)),
        completed=Count("id", filter=Q(status=SessionStatus.COMPLETED)),
        failed=Count("id", filter=Q(status=SessionStatus.FAILED)),
        canceled=Count("id", filter=Q(status=SessionStatus.CANCELED)),
    )


def run_list(*, tenant: Tenant, limit: int = RUN_LIST_LIMIT) -> list[RunRow]:
    """The newest sessions with their scan (and the attempt that retried them, if any):
    one query."""
    now = timezone.now()
    sessions = (
        ScanSession.objects.for_tenant(tenant)
        .select_related("scan", "retried_by")
        .order_by("-created_at", "-id")[:limit]
    )
    return [RunRow(session=s, duration=session_duration(s, now)) for s in sessions]


def session_for_tenant(*, tenant: Tenant, session_id) -> ScanSession | None:
    return ScanSession.objects.for_tenant(tenant).filter(pk=session_id).first()


def run_detail(*, tenant: Tenant, session_id) -> RunDetail | None:
    """One session for its details sheet: the session, then its commands with their
    events (the command log). Three queries."""
    session = (
        ScanSession.objects.for_tenant(tenant)
        .select_related("scan", "agent", "created_by", "retried_by")
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        return None
    commands = list(
        Command.objects.for_tenant(tenant)
        .filter(scan_session=session)
        .select_related("agent")
        .prefetch_related(Prefetch("events", queryset=CommandEvent.objects.select_related("agent")))
        .order_by("created_at", "id")
    )
    log = sorted(
        (event for command in commands for event in command.events.all()),
        key=lambda e: (e.at, e.id),
    )
    timeline = [
        TimelineEntry(
            at=event.at,
            status=event.to_status,
            label=CommandStatus(event.to_status).label
            + (f" on {event.agent.name}" if event.agent else ""),
            message=event.message,
        )
        for event in log
    ] or _session_timeline(session)
    by_severity = session.findings_by_severity or {}
    severities = [(severity, int(by_severity.get(severity, 0))) for severity in Severity.values]
    return RunDetail(
        session=session,
        duration=session_duration(session),
        commands=commands,
        timeline=timeline,
        log=log,
        severities=severities,
    )


def _session_timeline(session: ScanSession) -> list[TimelineEntry]:
    """A session without commands (a CI upload): its own times are its timeline."""
    entries = [TimelineEntry(at=session.created_at, status="pending", label="Created")]
    if session.started_at:
        entries.append(TimelineEntry(at=session.started_at, status="running", label="Started"))
    if session.completed_at:
        entries.append(
            TimelineEntry(
                at=session.completed_at,
                status=session.status,
                label=session.get_status_display(),
                message=session.error_message,
            )
        )
    return entries
