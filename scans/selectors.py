"""Reads on scans and sessions, always scoped to one tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

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

# The Runs tab shows the newest sessions, each under its run: a bound on rows, since one
# run may hold hundreds of sessions (tools × targets).
SESSION_LIST_LIMIT = 50


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
    last_session_status: str | None


@dataclass(frozen=True)
class SessionRow:
    """One tool on one target, as a row of the Runs tab."""

    session: ScanSession
    duration: str


@dataclass(frozen=True)
class RunGroup:
    """One trigger of a scan on the Runs tab: its sessions among those listed, in the
    order they started (stage after stage)."""

    run_id: UUID
    sessions: list[SessionRow]

    @property
    def first(self) -> ScanSession:
        return self.sessions[0].session


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    status: str
    label: str
    message: str = ""


@dataclass(frozen=True)
class SessionDetail:
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
    """The tenant's scans with the status of their newest session: one query."""
    last_status = (
        ScanSession.objects.filter(scan=OuterRef("pk")).order_by("-created_at").values("status")[:1]
    )
    scans = Scan.objects.for_tenant(tenant).annotate(last_session_status=Subquery(last_status))
    return [
        ScanRow(
            scan=scan,
            tools=list(dict.fromkeys(tool for stage in scan.stages for tool in stage["tools"])),
            schedule=scan.schedule.describe(),
            last_session_status=scan.last_session_status,
        )
        for scan in scans.order_by("name")
    ]


def run_stats(*, tenant: Tenant) -> dict[str, int]:
    """The Runs tab's cards: runs, not sessions, in one aggregate over one row per run.

    A run counts as scans/runs.py decides it, from its current sessions (the attempts no
    retry replaced): active while one of them is pending or running; once none is, canceled
    if one was canceled, else failed if one failed, else completed."""
    per_run = (
        ScanSession.objects.for_tenant(tenant)
        .filter(retried_by__isnull=True)
        .values("run_id")
        .annotate(
            n_active=Count("id", filter=Q(status__in=ACTIVE_SESSION_STATUSES)),
            n_canceled=Count("id", filter=Q(status=SessionStatus.CANCELED)),
            n_failed=Count("id", filter=Q(status=SessionStatus.FAILED)),
        )
    )
    over = Q(n_active=0)
    return per_run.aggregate(
        total=Count("run_id"),
        active=Count("run_id", filter=Q(n_active__gt=0)),
        completed=Count("run_id", filter=over & Q(n_canceled=0, n_failed=0)),
        failed=Count("run_id", filter=over & Q(n_canceled=0, n_failed__gt=0)),
        canceled=Count("run_id", filter=over & Q(n_canceled__gt=0)),
    )


def run_list(*, tenant: Tenant, limit: int = SESSION_LIST_LIMIT) -> list[RunGroup]:
    """The newest sessions, each with its scan (and the attempt that retried it, if any),
    grouped under their runs, the run with the newest session first: one query."""
    now = timezone.now()
    sessions = (
        ScanSession.objects.for_tenant(tenant)
        .select_related("scan", "retried_by")
        .order_by("-created_at", "-id")[:limit]
    )
    runs: dict[UUID, list[SessionRow]] = {}
    for session in sessions:
        runs.setdefault(session.run_id, []).append(
            SessionRow(session=session, duration=session_duration(session, now))
        )
    return [
        RunGroup(run_id=run_id, sessions=rows[::-1])  # oldest first: stage after stage
        for run_id, rows in runs.items()
    ]


# What the details sheet reads with its session: one query, the view fetches it by id.
SESSION_SHEET_ROWS = ScanSession.objects.select_related("scan", "agent", "created_by", "retried_by")


def session_detail(*, session: ScanSession) -> SessionDetail:
    """One session (read from SESSION_SHEET_ROWS) for its details sheet: its commands
    with their events (the command log). Two queries."""
    commands = list(
        Command.objects.for_tenant(session.tenant_id)
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
    return SessionDetail(
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
