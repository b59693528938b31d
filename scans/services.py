"""Writes on scans, scan profiles and scan sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from agents.models import Command, CommandStatus, CommandType
from agents.queue import command_cancel
from rediverio.audit import audit_record, changes_between
from rediverio.errors import Conflict, InputInvalid, PlanLimitReached
from rediverio.lib.ids import uuid7
from rediverio.metrics import SCAN_EXECUTION_DURATION, SCANS_SCHEDULED
from rediverio.models import AuditAction, Tenant
from scans.models import (
    FINAL_SESSION_STATUSES,
    Scan,
    ScanProfile,
    ScanSession,
    ScanStatus,
    ScanType,
    SessionStatus,
    TriggerType,
)
from scans.profiles import SYSTEM_PROFILES
from scans.quality_gate import QualityGate, evaluate
from scans.runs import run_count_started, run_is_active, run_reopen
from scans.scanner_config import acting_role, scanner_config_refusals
from scans.schedules import ScheduleError
from scans.workflows import WAITING_NOTE, advance, start_stage


@transaction.atomic
def system_profiles_install(*, tenant: Tenant) -> list[ScanProfile]:
    """Give a tenant the system profiles (idempotent: refreshes them on upgrade).

    The first system profile marked default becomes the tenant's default only when the
    tenant has none; a tenant profile that already bears a system name is left alone.
    """
    existing = ScanProfile.objects.for_tenant(tenant)
    has_default = existing.filter(is_default=True).exists()
    own_names = set(existing.filter(is_system=False).values_list("name", flat=True))
    profiles = []
    for definition in SYSTEM_PROFILES:
        if definition["name"] in own_names:
            continue  # the tenant's own profile of that name wins
        fields = {key: value for key, value in definition.items() if key != "is_default"}
        profile, created = ScanProfile.objects.update_or_create(
            tenant=tenant, name=definition["name"], defaults={**fields, "is_system": True}
        )
        if created and definition.get("is_default") and not has_default:
            profile.is_default = True
            profile.save(update_fields=["is_default"])
            has_default = True
        profiles.append(profile)
    return profiles


def session_for_ingest(
    *,
    tenant: Tenant,
    scan_id: str,
    scanner_name: str,
    agent=None,
    user=None,
    trigger: str = TriggerType.CI,
) -> ScanSession:
    """The session a report belongs to: the tenant's session named by `scan_id` (what
    agents put in the report's metadata), else a new standalone one for this report."""
    try:
        session_id = uuid.UUID(str(scan_id)) if scan_id else None
    except ValueError:
        session_id = None
    if session_id is not None:
        session = ScanSession.objects.for_tenant(tenant).filter(pk=session_id).first()
        if session is not None:
            return session
    return ScanSession.objects.create(
        tenant=tenant,
        agent=agent,
        created_by=user,
        trigger=trigger,
        scanner_name=scanner_name[:100],
        status=SessionStatus.RUNNING,
        started_at=timezone.now(),
    )


def session_record_ingest(
    *,
    session: ScanSession,
    counts: dict,
    tool_name: str,
    tool_version: str,
    asset,
    started_at=None,
    finished_at=None,
) -> ScanSession:
    """Add an ingest's counts to its session. A standalone session (no scan definition,
    created for this report) is complete once its report is stored: 100 %, with the
    times the report gives when they are plausible, and created ≤ started ≤ completed."""
    session.scanner_name = session.scanner_name or tool_name[:100]
    session.scanner_version = tool_version[:100] or session.scanner_version
    if asset is not None and session.asset_id is None:
        session.asset = asset
        session.asset_type = asset.type
        session.asset_value = asset.identifier
    session.findings_total += counts["findings_total"]
    session.findings_new += counts["findings_created"]
    session.findings_fixed += counts["findings_fixed"]
    by_severity = dict(session.findings_by_severity)
    for severity, n in counts["by_severity"].items():
        by_severity[severity] = by_severity.get(severity, 0) + n
    session.findings_by_severity = by_severity
    if session.scan_id is None and session.status not in FINAL_SESSION_STATUSES:
        now = timezone.now()
        session.status = SessionStatus.COMPLETED
        session.progress = 100
        # The report says when its scan ran. A time after now (a runner's clock ahead of
        # ours) is not believed: the run would end before it began, or in the future.
        if started_at is not None and started_at <= now:
            session.started_at = started_at.astimezone(now.tzinfo)  # UTC
        else:
            session.started_at = min(session.started_at or now, session.created_at or now)
        if finished_at is not None and session.started_at <= finished_at <= now:
            session.completed_at = finished_at.astimezone(now.tzinfo)
        else:
            session.completed_at = now
        # The row is created when the report arrives, after the scan it records began:
        # the run was created when it started, so its timeline and the runs list (newest
        # created first) read in the order things happened.
        session.created_at = min(session.created_at or now, session.started_at)
        session.duration_ms = int(
            (session.completed_at - session.started_at).total_seconds() * 1000
        )
    session.save()
    return session


# ------------------------------------------------------------------- scan definitions


class ScanInvalid(InputInvalid):
    """A scan that cannot be saved; `field` names the setting at fault, `details` every
    field at fault when there are several."""


def _check_scanner_config(*, tenant: Tenant, by, config, before: dict | None) -> None:
    """Members set only the scanner settings that cannot send an agent outside its work
    area (scans/scanner_config.py); the role is looked up only when something changed."""
    if config == (before or {}):
        return
    refusals = scanner_config_refusals(config, acting_role(tenant, by), before=before)
    if refusals:
        field, message = next(iter(refusals.items()))
        raise ScanInvalid(field, message, {f: [m] for f, m in refusals.items()})


class ScanLimitReached(PlanLimitReached):
    pass


class ConcurrencyLimitReached(Conflict):
    code = "CONCURRENCY_LIMIT"

    @classmethod
    def of(cls, scan: Scan) -> ConcurrencyLimitReached:
        profile = scan.profile
        assert profile is not None  # only a profile's limit leaves a scan without room
        return cls(
            f"Profile {profile.name} already runs {profile.max_concurrent_scans} "
            "scan(s) at once; wait for one to finish."
        )


def _validated(scan: Scan) -> Scan:
    try:
        scan.schedule.validate()
    except ScheduleError as exc:
        raise ScanInvalid(exc.field, exc.message) from exc
    if scan.scan_type == ScanType.SINGLE and not scan.scanner_name:
        raise ScanInvalid("scanner_name", "a single scan needs a scanner")
    stages = scan.stages
    if scan.scan_type == ScanType.WORKFLOW and (
        not stages or any(not stage["tools"] for stage in stages)
    ):
        raise ScanInvalid("pipeline", "a workflow needs stages, each with at least one tool")
    return scan


def _next_run(scan: Scan, now: datetime):
    if scan.status != ScanStatus.ACTIVE:
        return None
    return scan.schedule.next_after(now)


@transaction.atomic
def scan_create(*, tenant: Tenant, by=None, targets: list | None = None, **fields) -> Scan:
    """Create a scan definition; its next run follows from its schedule."""
    _check_scanner_config(
        tenant=tenant, by=by, config=fields.get("scanner_config", {}), before=None
    )
    scan = _scan_insert(tenant=tenant, by=by, targets=targets, fields=fields)
    audit_record(tenant=tenant, by=by, action=AuditAction.SCAN_CREATED, target=scan)
    return scan


def _scan_insert(*, tenant: Tenant, by, targets: list | None, fields: dict) -> Scan:
    limit = Tenant.objects.select_for_update().get(pk=tenant.pk).limit("max_scans")
    if limit is not None and Scan.objects.for_tenant(tenant).count() >= limit:
        raise ScanLimitReached(
            f"The {tenant.plan} plan of {tenant.name} allows {limit} scan(s); remove one first."
        )
    scan = _validated(Scan(tenant=tenant, created_by=by, **fields))
    scan.next_run_at = _next_run(scan, timezone.now())
    scan.save()
    if targets:
        scan.targets.set(targets)
    return scan


@transaction.atomic
def scan_update(*, scan: Scan, by=None, targets: list | None = None, **fields) -> Scan:
    if "scanner_config" in fields:
        _check_scanner_config(
            tenant=scan.tenant, by=by, config=fields["scanner_config"], before=scan.scanner_config
        )
    schedule_before = scan.schedule
    status_before = scan.status
    before = {name: getattr(scan, name) for name in fields}
    if targets is not None:
        before["targets"] = sorted(str(asset) for asset in scan.targets.all())
    for name, value in fields.items():
        setattr(scan, name, value)
    _validated(scan)
    if scan.schedule != schedule_before or scan.status != status_before:
        scan.next_run_at = _next_run(scan, timezone.now())
    scan.save()
    after = dict(fields)
    if targets is not None:
        scan.targets.set(targets)
        after["targets"] = sorted(str(asset) for asset in targets)
    changes = changes_between(before, after)
    if changes:
        action = (
            AuditAction.SCAN_STATUS_CHANGED
            if set(changes) == {"status"}
            else AuditAction.SCAN_UPDATED
        )
        audit_record(
            tenant=scan.tenant, by=by, action=action, target=scan, details={"changes": changes}
        )
    return scan


def scan_set_status(*, scan: Scan, status: str, by=None) -> Scan:
    """Pause, activate or disable: only active scans have a next run."""
    return scan_update(scan=scan, by=by, status=status)


@transaction.atomic
def scan_clone(*, scan: Scan, name: str | None = None, by=None) -> Scan:
    base = name or f"{scan.name} (copy)"
    taken = set(Scan.objects.for_tenant(scan.tenant).values_list("name", flat=True))
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base} {n}", n + 1
    fields = {
        f.name: getattr(scan, f.name)
        for f in Scan._meta.concrete_fields
        if f.name
        not in (
            "id",
            "tenant",
            "name",
            "created_by",
            "created_at",
            "updated_at",
            "next_run_at",
            "last_run_at",
            "total_runs",
            "successful_runs",
            "failed_runs",
            "canceled_runs",
        )
    }
    # The copy keeps the scanner settings as they were set (scans/scanner_config.py
    # lets a member keep what an admin set): nothing new reaches an agent.
    clone = _scan_insert(
        tenant=scan.tenant,
        by=by,
        targets=list(scan.targets.all()),
        fields={"name": candidate, **fields},
    )
    audit_record(
        tenant=scan.tenant,
        by=by,
        action=AuditAction.SCAN_CLONED,
        target=clone,
        details={"from": scan.name, "from_id": str(scan.pk)},
    )
    return clone


@transaction.atomic
def scan_delete(*, scan: Scan, by=None) -> None:
    """Delete a scan and its run history, stopping its live runs first so no agent keeps
    working on a scan that no longer exists."""
    for session in ScanSession.objects.for_tenant(scan.tenant).filter(scan=scan).active():
        session_cancel(session=session, reason="the scan was deleted")
    audit_record(tenant=scan.tenant, by=by, action=AuditAction.SCAN_DELETED, target=scan)
    scan.delete()


# ------------------------------------------------------------------------------- runs


def scans_with_room(scans: list[Scan]) -> list[Scan]:
    """Scans whose profile still has room under its max_concurrent_scans."""
    profiles = {s.profile.pk: s.profile for s in scans if s.profile is not None}
    if not profiles:
        return scans
    active = dict(
        ScanSession.objects.filter(scan__profile_id__in=profiles)
        .active()
        .values_list("scan__profile_id")
        .annotate(n=Count("run_id", distinct=True))
        .order_by()
    )
    allowed = []
    for scan in scans:
        if (
            scan.profile_id
            and active.get(scan.profile_id, 0) >= profiles[scan.profile_id].max_concurrent_scans
        ):
            continue
        active[scan.profile_id] = active.get(scan.profile_id, 0) + 1
        allowed.append(scan)
    return allowed


@transaction.atomic
def scan_trigger(*, scan: Scan, by=None, trigger: str = TriggerType.MANUAL, now=None):
    """Run a scan now: a session and a command per (tool, target) of its first stage."""
    now = now or timezone.now()
    if not scans_with_room([scan]):
        raise ConcurrencyLimitReached.of(scan)
    (run,) = start_stage([(scan, uuid7())], stage=0, trigger=trigger, now=now, by=by)
    if not run.sessions:
        raise ScanInvalid(*(run.idle_because or ("targets", "the scan has no target assets")))
    run_count_started([scan.pk], now=now)
    transaction.on_commit(lambda: SCANS_SCHEDULED.labels(trigger).inc())
    audit_record(
        tenant=scan.tenant,
        by=by,
        action=AuditAction.SCAN_TRIGGERED,
        target=scan,
        details={"run_id": run.run_id, "trigger": trigger},
    )
    return run


@transaction.atomic
def session_follow_command(*, command: Command, now=None) -> ScanSession | None:
    """Bring a session up to date with the command that carries its work."""
    if command.scan_session_id is None or command.type != CommandType.SCAN:
        return None
    now = now or timezone.now()
    session = ScanSession.objects.select_for_update().get(pk=command.scan_session_id)
    if session.is_finished:
        return session
    follows: dict[str, SessionStatus] = {
        CommandStatus.ACKNOWLEDGED: SessionStatus.RUNNING,
        CommandStatus.RUNNING: SessionStatus.RUNNING,
        CommandStatus.COMPLETED: SessionStatus.COMPLETED,
        CommandStatus.DEAD: SessionStatus.FAILED,
        CommandStatus.EXPIRED: SessionStatus.FAILED,
        CommandStatus.CANCELED: SessionStatus.CANCELED,
    }
    status = follows.get(command.status)
    if status is None:
        return session  # pending again: a retry is queued
    session.agent_id = command.agent_id or session.agent_id
    session.progress = max(session.progress, command.progress)
    if session.error_message.startswith(WAITING_NOTE):
        session.error_message = ""  # an agent took the work: it no longer waits
    if status == SessionStatus.RUNNING:
        session.status = status
        session.started_at = session.started_at or command.started_at or now
        session.save()
        return session
    session.status = status
    session.started_at = session.started_at or command.started_at or command.acknowledged_at or now
    session.completed_at = now
    duration_ms = int((now - session.started_at).total_seconds() * 1000)
    session.duration_ms = duration_ms
    observe_duration = SCAN_EXECUTION_DURATION.labels(session.scanner_name).observe
    transaction.on_commit(lambda: observe_duration(duration_ms / 1000))
    if status == SessionStatus.COMPLETED:
        session.progress = 100
        session.quality_gate_result = _quality_gate(session)
    else:
        session.error_message = command.error_message or f"the command {command.status}"
    session.save()
    advance(session, now=now)
    return session


def _quality_gate(session: ScanSession) -> dict | None:
    """The profile's quality gate on the session's findings, when the profile has one."""
    scan = session.scan  # None (no query) when the session has no scan
    profile = scan.profile if scan is not None else None
    if profile is None or not profile.quality_gate:
        return None
    gate = QualityGate.from_dict(profile.quality_gate)
    return evaluate(gate, by_severity=session.findings_by_severity).to_dict()


@transaction.atomic
def session_cancel(
    *, session: ScanSession, reason: str = "stopped by a user", by=None
) -> ScanSession:
    """Stop a run's session: its command is canceled (its agent is told to stop), and the
    run ends, canceled, once its other sessions have finished."""
    for command in Command.objects.for_tenant(session.tenant).filter(scan_session=session):
        command_cancel(command=command, reason=reason)
    session = ScanSession.objects.select_for_update().get(pk=session.pk)
    if not session.is_finished:
        now = timezone.now()
        session.status = SessionStatus.CANCELED
        session.started_at = session.started_at or now
        session.completed_at = now
        session.error_message = reason
        session.save()
        advance(session, now=now)
        audit_record(
            tenant=session.tenant,
            by=by,
            action=AuditAction.SESSION_STOPPED,
            target=session,
            details={"run_id": session.run_id, "reason": reason},
        )
    return session


class RetryRefused(Conflict):
    """The session cannot be retried now: not finished, retried already, or its tool and
    target are no longer part of the scan."""

    code = "NOT_FINISHED"


@transaction.atomic
def session_retry(*, session: ScanSession, by=None) -> ScanSession:
    """Run a finished session's tool on its target again: a new attempt in the same run
    and stage (scans/runs.py). A finished run becomes active again, so the profile's
    concurrency limit applies; the run's other stages do not run again."""
    if session.scan_id is None:
        raise RetryRefused("Only a finished session of a scan can be retried.")
    # The scan's row orders this with the run's sessions finishing (see `advance`).
    scan = (
        Scan.objects.select_for_update(no_key=True, of=("self",))
        .select_related("profile")
        .get(pk=session.scan_id)
    )
    run = list(ScanSession.objects.for_tenant(session.tenant).filter(run_id=session.run_id))
    session = next(s for s in run if s.pk == session.pk)  # as it is now, not as it was read
    if not session.is_finished:
        raise RetryRefused("Only a finished session of a scan can be retried.")
    if any(s.retry_of_id == session.pk for s in run):
        raise RetryRefused("This attempt was retried already; retry its latest attempt.")
    if not run_is_active(run):
        if not scans_with_room([scan]):
            raise ConcurrencyLimitReached.of(scan)
        run_reopen(scan, run)
    now = timezone.now()
    (started,) = start_stage(
        [(scan, session.run_id)],
        stage=session.stage,
        trigger=TriggerType.RETRY,
        now=now,
        by=by,
        retry_of=session,
    )
    if not started.sessions:
        raise RetryRefused(
            f"{session.scanner_name} on {session.asset_value} is no longer part of the scan."
        )
    (retried,) = started.sessions
    audit_record(
        tenant=session.tenant,
        by=by,
        action=AuditAction.SESSION_RETRIED,
        target=session,
        details={"run_id": session.run_id, "attempt": str(retried.pk)},
    )
    return retried
