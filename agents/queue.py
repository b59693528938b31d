"""The command queue: enqueue, lease, the agent-driven lifecycle, and its sweeps.

Lifecycle (docs/wire-protocol.md, Commands):

    pending ─lease─▶ pending (held) ─ack─▶ acknowledged ─start─▶ running ─▶ completed
                                                                 └─▶ failed ─▶ pending | dead
    pending ─TTL─▶ expired          any live state ─cancel─▶ canceled

Delivery is at-least-once: a lease that is not acknowledged within the ack timeout, or
whose agent stops heart-beating, puts the command back in the queue, and another agent
may run it again. Every delivery counts as an attempt; after `max_attempts` the command
is dead. Every status change is written to the command's event log.

Polling leases work in one statement: `UPDATE … WHERE id IN (SELECT … ORDER BY priority
DESC, created_at LIMIT n FOR UPDATE SKIP LOCKED) RETURNING …` on PostgreSQL, so
concurrent pollers never block each other nor get the same command. SQLite has no row
locks; there every transaction takes the database's single write lock at BEGIN
(IMMEDIATE mode, see settings), which serialises the same statement.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from agents.models import (
    FINAL_COMMAND_STATUSES,
    Agent,
    AgentHealth,
    Command,
    CommandEvent,
    CommandPriority,
    CommandStatus,
    CommandType,
)
from agents.selection import CONTROL_TYPES, WORK_TYPES, commands_for_agent
from protocol.commands import CancelCommand
from rediverio.errors import Conflict
from rediverio.lib.db import column_of, concrete_field
from rediverio.models import Tenant

HELD_STATUSES = (CommandStatus.ACKNOWLEDGED, CommandStatus.RUNNING)


class QueueError(Conflict):
    """A lifecycle call the command's state refuses (the API answers 409, or 404)."""

    code = "QUEUE_ERROR"


class CommandNotFound(QueueError):
    status = 404
    code = "NOT_FOUND"


class LeaseConflict(QueueError):
    """The command is not held by the calling agent."""

    code = "LEASE_CONFLICT"


class InvalidTransition(QueueError):
    code = "INVALID_TRANSITION"


class CommandCanceled(QueueError):
    """The command was canceled: the agent must stop working on it."""

    code = "COMMAND_CANCELED"


# --------------------------------------------------------------------------- enqueue


def command_enqueue(
    *,
    tenant: Tenant,
    type: str,
    payload: dict[str, Any] | None = None,
    priority: int = CommandPriority.NORMAL,
    target_agent: Agent | None = None,
    required_capabilities: list[str] | tuple[str, ...] = (),
    required_tools: list[str] | tuple[str, ...] = (),
    tags: list[str] | tuple[str, ...] = (),
    run_on_tenant_runner: bool = False,
    ttl_seconds: int | None = None,
    max_attempts: int = 3,
    scan=None,
    scan_session=None,
    now: datetime | None = None,
) -> Command:
    now = now or timezone.now()
    command = Command.objects.create(
        tenant=tenant,
        type=type,
        payload=payload or {},
        priority=priority,
        target_agent=target_agent,
        required_capabilities=sorted(set(required_capabilities)),
        required_tools=sorted(set(required_tools)),
        tags=sorted(set(tags)),
        run_on_tenant_runner=run_on_tenant_runner,
        available_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds or settings.COMMAND_TTL_SECONDS),
        max_attempts=max_attempts,
        scan=scan,
        scan_session=scan_session,
    )
    _record(command, "", CommandStatus.PENDING, now=now)
    return command


def commands_enqueue_many(commands: list[Command], *, now: datetime | None = None) -> list[Command]:
    """Queue many unsaved commands at once (a scheduler tick's batch): one INSERT for
    the commands and one for their first events, however many there are."""
    now = now or timezone.now()
    for command in commands:
        command.available_at = now
        command.expires_at = command.expires_at or now + timedelta(
            seconds=settings.COMMAND_TTL_SECONDS
        )
        command.required_capabilities = sorted(set(command.required_capabilities))
        command.required_tools = sorted(set(command.required_tools))
        command.tags = sorted(set(command.tags))
    Command.objects.bulk_create(commands, batch_size=1000)
    CommandEvent.objects.bulk_create(
        [
            CommandEvent(
                tenant_id=c.tenant_id, command_id=c.pk, to_status=CommandStatus.PENDING, at=now
            )
            for c in commands
        ],
        batch_size=1000,
    )
    return commands


# ----------------------------------------------------------------------------- lease


def _available(tenant: Tenant, now: datetime) -> QuerySet[Command]:
    """Pending commands nobody holds (or whose holder let the ack timeout pass)."""
    return Command.objects.for_tenant(tenant).filter(
        Q(agent__isnull=True) | Q(lease_expires_at__lt=now),
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        status=CommandStatus.PENDING,
        available_at__lte=now,
        attempts__lt=F("max_attempts"),
    )


def held_work_count(agent: Agent, now: datetime) -> int:
    """Work the agent holds: acknowledged or running, or leased and not yet acked."""
    return (
        Command.objects.for_tenant(agent.tenant)
        # The status list matches the commands_held_by_agent partial index.
        .filter(
            agent=agent,
            type__in=WORK_TYPES,
            status__in=[CommandStatus.PENDING, *HELD_STATUSES],
        )
        .filter(
            Q(status__in=HELD_STATUSES) | Q(status=CommandStatus.PENDING, lease_expires_at__gte=now)
        )
        .count()
    )


def _db_value(model_field_name: str, value: Any) -> Any:
    return concrete_field(Command, model_field_name).get_db_prep_value(
        value, connection, prepared=False
    )


def _claim(
    candidates: QuerySet[Command], *, limit: int, agent: Agent, now: datetime
) -> list[Command]:
    """Lease up to `limit` candidates to `agent` in one UPDATE … RETURNING."""
    ids = (
        candidates.order_by("-priority", "created_at")
        .select_for_update(skip_locked=True)
        .values("id")[:limit]
    )
    inner_sql, inner_params = ids.query.sql_with_params()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column_of(f)) for f in Command._meta.concrete_fields)
    sql = (
        f"UPDATE {quote(Command._meta.db_table)} SET "
        f"{quote('agent_id')} = %s, {quote('lease_expires_at')} = %s, "
        f"{quote('attempts')} = {quote('attempts')} + 1, {quote('updated_at')} = %s "
        f"WHERE {quote('id')} IN ({inner_sql}) RETURNING {columns}"
    )
    lease_until = now + timedelta(seconds=settings.COMMAND_ACK_TIMEOUT_SECONDS)
    params = [
        _db_value("agent", agent.pk),
        _db_value("lease_expires_at", lease_until),
        _db_value("updated_at", now),
        *inner_params,
    ]
    return list(Command.objects.raw(sql, params))


LIVENESS_WRITE_SECONDS = 15
# Health that only silence gave: any authenticated call proves the agent is back. An
# `error` the agent reported stays until its heartbeat says otherwise.
SILENT_HEALTH = (AgentHealth.UNKNOWN, AgentHealth.OFFLINE)


def sighting_is_due(last_seen_at, health, *, now: datetime) -> bool:
    """Whether a call from the agent should be written down as a sign of life: at most
    every LIVENESS_WRITE_SECONDS (a write per call would churn the agent row), at once
    when its health says it was silent."""
    if health in SILENT_HEALTH or last_seen_at is None:
        return True
    return now - last_seen_at > timedelta(seconds=LIVENESS_WRITE_SECONDS)


def agent_sighting_record(*, agent_id, now: datetime) -> None:
    """One UPDATE: seen now, and online if only silence had made it otherwise (decided
    from the row as it is then, so an error reported meanwhile is kept)."""
    Agent.objects.filter(pk=agent_id).update(
        last_seen_at=now,
        health=Case(
            When(health__in=SILENT_HEALTH, then=Value(AgentHealth.ONLINE)), default=F("health")
        ),
    )


def lease_commands(*, agent: Agent, limit: int = 10, now: datetime | None = None) -> list[Command]:
    """Hand the polling agent the most urgent commands it qualifies for.

    Control commands (cancel, health check, config update) come first and need no job
    slot: a busy agent must still hear "cancel". Work (scan, collect) is capped by the
    agent's free slots. The number of queries is fixed, whatever the queue length.
    """
    now = now or timezone.now()
    limit = max(0, min(limit, settings.AGENT_POLL_MAX_LIMIT))
    if limit == 0:
        return []
    with transaction.atomic():
        # One poll at a time per agent, so two polls cannot both spend the same free
        # slot; and a poll is a sign of life, written at most every LIVENESS_WRITE_SECONDS
        # (a write per poll would churn the agent row).
        seen = (
            Agent.objects.select_for_update()
            .filter(pk=agent.pk)
            .values_list("last_seen_at", "health", "status")
            .first()
        )
        if seen is None:
            return []  # deleted since it authenticated
        last_seen_at, health, agent.status = seen
        # Work goes by the health as it stands after this poll, read under the lock: a
        # poll revives an agent that was offline (or unknown) for its silence, but not
        # one that reported an error, nor a disabled one (selection rule 3).
        agent.health = AgentHealth.ONLINE if health in SILENT_HEALTH else health
        if sighting_is_due(last_seen_at, health, now=now):
            agent_sighting_record(agent_id=agent.pk, now=now)
        eligible = _available(agent.tenant, now).filter(commands_for_agent(agent))
        leased = _claim(eligible.filter(type__in=CONTROL_TYPES), limit=limit, agent=agent, now=now)
        work_limit = min(
            limit - len(leased), agent.max_concurrent_jobs - held_work_count(agent, now)
        )
        if work_limit > 0:
            leased += _claim(
                eligible.filter(type__in=WORK_TYPES), limit=work_limit, agent=agent, now=now
            )
        leased.sort(key=lambda c: (-c.priority, c.created_at))
        CommandEvent.objects.bulk_create(
            [
                CommandEvent(
                    tenant_id=c.tenant_id,
                    command_id=c.pk,
                    from_status=CommandStatus.PENDING,
                    to_status=CommandStatus.PENDING,
                    agent=agent,
                    message=f"leased (attempt {c.attempts} of {c.max_attempts})",
                    at=now,
                )
                for c in leased
            ]
        )
    return leased


# ------------------------------------------------------------------------- lifecycle


def _record(
    command: Command, from_status: str, to_status: str, *, now: datetime, agent=None, message=""
):
    CommandEvent.objects.create(
        tenant_id=command.tenant_id,
        command=command,
        from_status=from_status,
        to_status=to_status,
        agent=agent,
        message=message,
        at=now,
    )


def _held(agent: Agent, command_id) -> Command:
    """The command, locked, if it belongs to the agent's tenant; 404 otherwise."""
    try:
        command = Command.objects.for_tenant(agent.tenant).select_for_update().get(pk=command_id)
    except (Command.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise CommandNotFound("No such command.") from exc
    if command.status == CommandStatus.CANCELED:
        raise CommandCanceled("The command was canceled; stop working on it.")
    if command.agent_id != agent.pk:
        raise LeaseConflict("Another agent holds this command, or none does.")
    return command


def _move(
    command: Command, to: str, *, now: datetime, agent: Agent | None, message: str = "", **fields
):
    from_status = command.status
    command.status = to
    for name, value in fields.items():
        setattr(command, name, value)
    command.save(update_fields=["status", "updated_at", *fields])
    _record(command, from_status, to, now=now, agent=agent, message=message)
    return command


@transaction.atomic
def command_acknowledge(*, agent: Agent, command_id, now: datetime | None = None) -> Command:
    now = now or timezone.now()
    command = _held(agent, command_id)
    if command.status in HELD_STATUSES:
        return command  # a retried ack changes nothing
    if command.status != CommandStatus.PENDING:
        raise InvalidTransition(f"A {command.status} command cannot be acknowledged.")
    if command.lease_expires_at and command.lease_expires_at < now:
        # The lease ran out; the command may be handed out again at any moment.
        raise LeaseConflict("The lease expired before the acknowledgement.")
    # From here the agent's heartbeats keep the lease (see leases_requeue_lost).
    return _move(
        command,
        CommandStatus.ACKNOWLEDGED,
        now=now,
        agent=agent,
        acknowledged_at=now,
        lease_expires_at=None,
    )


@transaction.atomic
def command_start(*, agent: Agent, command_id, now: datetime | None = None) -> Command:
    now = now or timezone.now()
    command = _held(agent, command_id)
    return _start(command, agent=agent, now=now)


def _start(command: Command, *, agent: Agent, now: datetime) -> Command:
    if command.status == CommandStatus.RUNNING:
        return command
    if command.status == CommandStatus.PENDING:
        # Agents may skip the explicit acknowledge (the reference SDK never calls start).
        command = _move(
            command,
            CommandStatus.ACKNOWLEDGED,
            now=now,
            agent=agent,
            acknowledged_at=now,
            lease_expires_at=None,
        )
    if command.status != CommandStatus.ACKNOWLEDGED:
        raise InvalidTransition(f"A {command.status} command cannot start.")
    return _move(command, CommandStatus.RUNNING, now=now, agent=agent, started_at=now)


@transaction.atomic
def command_progress(
    *, agent: Agent, command_id, percent: int, message: str = "", now: datetime | None = None
) -> Command:
    now = now or timezone.now()
    command = _start(_held(agent, command_id), agent=agent, now=now)
    command.progress = max(0, min(100, percent))
    command.progress_message = message[:500]
    command.save(update_fields=["progress", "progress_message", "updated_at"])
    return command


@transaction.atomic
def command_complete(
    *, agent: Agent, command_id, result: dict | None = None, now: datetime | None = None
) -> Command:
    now = now or timezone.now()
    command = _held(agent, command_id)
    if command.status == CommandStatus.COMPLETED:
        return command  # a retried completion changes nothing
    if command.status in FINAL_COMMAND_STATUSES:
        raise InvalidTransition(f"A {command.status} command cannot complete.")
    if command.status == CommandStatus.PENDING:
        command = _start(command, agent=agent, now=now)
    return _move(
        command,
        CommandStatus.COMPLETED,
        now=now,
        agent=agent,
        result=result or {},
        progress=100,
        completed_at=now,
    )


def retry_delay(attempt: int) -> timedelta:
    """Capped exponential backoff with jitter: base·2^(attempt-1), at most the cap, then
    up to 10 % more so retries of commands that failed together spread out."""
    base = settings.COMMAND_RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1)
    seconds = min(settings.COMMAND_RETRY_CAP_SECONDS, base)
    return timedelta(seconds=seconds * (1 + random.random() * 0.1))  # noqa: S311


def _fail_or_retry(command: Command, *, now: datetime, agent: Agent | None) -> Command:
    """After a failure: back to the queue after a backoff, or dead when out of attempts."""
    if command.attempts < command.max_attempts:
        delay = retry_delay(command.attempts)
        return _move(
            command,
            CommandStatus.PENDING,
            now=now,
            agent=agent,
            message=f"retry {command.attempts + 1} of {command.max_attempts} "
            f"in {int(delay.total_seconds())} s",
            agent_id=None,
            lease_expires_at=None,
            available_at=now + delay,
            progress=0,
        )
    return _move(
        command,
        CommandStatus.DEAD,
        now=now,
        agent=agent,
        message=f"gave up after {command.attempts} attempts",
        completed_at=now,
    )


@transaction.atomic
def command_fail(
    *, agent: Agent, command_id, error_message: str = "", now: datetime | None = None
) -> Command:
    now = now or timezone.now()
    command = _held(agent, command_id)
    if command.status in FINAL_COMMAND_STATUSES:
        raise InvalidTransition(f"A {command.status} command cannot fail.")
    command = _move(
        command,
        CommandStatus.FAILED,
        now=now,
        agent=agent,
        message=error_message[:2000],
        error_message=error_message,
    )
    return _fail_or_retry(command, now=now, agent=agent)


@transaction.atomic
def command_cancel(*, command: Command, reason: str = "", now: datetime | None = None) -> Command:
    """Cancel a command. An agent holding it hears about it through a `cancel` command
    aimed at that agent (priority critical, needing no job slot)."""
    now = now or timezone.now()
    command = Command.objects.select_for_update().get(pk=command.pk)
    if command.status in FINAL_COMMAND_STATUSES:
        return command
    holder = (
        command.agent if (command.status in HELD_STATUSES or _is_leased(command, now)) else None
    )
    _move(command, CommandStatus.CANCELED, now=now, agent=None, message=reason, completed_at=now)
    if holder is not None:
        command_enqueue(
            tenant=command.tenant,
            type=CommandType.CANCEL,
            payload=CancelCommand(command_id=str(command.pk), reason=reason).to_wire(),
            priority=CommandPriority.CRITICAL,
            target_agent=holder,
            scan=command.scan,
            scan_session=command.scan_session,
            now=now,
        )
    return command


def _is_leased(command: Command, now: datetime) -> bool:
    return command.agent_id is not None and (
        command.lease_expires_at is None or command.lease_expires_at >= now
    )


# ---------------------------------------------------------------------------- sweeps


@dataclass
class SweepResult:
    agents_offline: int = 0
    leases_requeued: int = 0
    commands_dead: int = 0
    commands_expired: int = 0
    commands_pruned: int = 0

    @property
    def found_work(self) -> bool:
        return any(vars(self).values())


def agents_mark_offline(*, now: datetime | None = None) -> int:
    """Online agents silent for longer than the offline threshold become offline."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.AGENT_OFFLINE_AFTER_SECONDS)
    return Agent.objects.filter(
        Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True), health=AgentHealth.ONLINE
    ).update(health=AgentHealth.OFFLINE, updated_at=now)


SWEEP_BATCH = 1000


def _bulk_move(commands: list[Command], to: str, *, now: datetime, message: str, **fields) -> int:
    """Move many commands at once: one UPDATE and one INSERT of events per batch."""
    if not commands:
        return 0
    Command.objects.filter(pk__in=[c.pk for c in commands]).update(
        status=to, updated_at=now, **fields
    )
    CommandEvent.objects.bulk_create(
        [
            CommandEvent(
                tenant_id=c.tenant_id,
                command_id=c.pk,
                from_status=c.status,
                to_status=to,
                message=message,
                at=now,
            )
            for c in commands
        ]
    )
    return len(commands)


@transaction.atomic
def leases_requeue_lost(*, now: datetime | None = None) -> tuple[int, int]:
    """Return lost work to the queue: leases never acknowledged in time, and work held by
    agents that stopped heart-beating. Out of attempts, it is dead instead.
    Works in batches with a fixed number of queries each. Returns (requeued, dead)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.AGENT_OFFLINE_AFTER_SECONDS)
    unacked = Q(status=CommandStatus.PENDING, agent__isnull=False, lease_expires_at__lt=now)
    abandoned = Q(status__in=HELD_STATUSES) & (
        Q(agent__isnull=True)
        | Q(agent__last_seen_at__lt=cutoff)
        | Q(agent__health=AgentHealth.OFFLINE)
    )
    lost = list(
        Command.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(unacked | abandoned)
        .only("id", "tenant_id", "status", "attempts", "max_attempts")[:SWEEP_BATCH]
    )
    return _requeue_or_bury(lost, now=now, reason="the lease was lost (no ack or no heartbeat)")


def _requeue_or_bury(commands: list[Command], *, now: datetime, reason: str) -> tuple[int, int]:
    """Commands taken back from their agent: to the queue again, or dead when every
    attempt is spent. Returns (requeued, dead)."""
    requeued = _bulk_move(
        [c for c in commands if c.attempts < c.max_attempts],
        CommandStatus.PENDING,
        now=now,
        message=f"requeued: {reason}",
        agent=None,
        lease_expires_at=None,
        available_at=now,
        progress=0,
    )
    dead = _bulk_move(
        [c for c in commands if c.attempts >= c.max_attempts],
        CommandStatus.DEAD,
        now=now,
        message=f"{reason}; no attempt is left",
        completed_at=now,
    )
    return requeued, dead


@transaction.atomic
def agent_commands_release(*, agent: Agent, reason: str, now: datetime | None = None):
    """Take back everything an agent holds (it was disabled, revoked or deleted)."""
    now = now or timezone.now()
    held = list(
        Command.objects.for_tenant(agent.tenant)
        .select_for_update()
        .filter(agent=agent, status__in=[CommandStatus.PENDING, *HELD_STATUSES])
        .only("id", "tenant_id", "status", "attempts", "max_attempts")
    )
    return _requeue_or_bury(held, now=now, reason=reason)


@transaction.atomic
def commands_expire(*, now: datetime | None = None) -> int:
    """Pending commands past their time to live are expired (never handed out)."""
    now = now or timezone.now()
    stale = list(
        Command.objects.select_for_update(skip_locked=True)
        .filter(status=CommandStatus.PENDING, expires_at__lte=now)
        .only("id", "tenant_id", "status")[:SWEEP_BATCH]
    )
    return _bulk_move(
        stale, CommandStatus.EXPIRED, now=now, message="time to live passed", completed_at=now
    )


def commands_prune(*, now: datetime | None = None) -> int:
    """Delete finished commands older than the retention, keeping the queue table small
    (dead tuples in a hot queue table slow every claim)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.COMMAND_RETENTION_DAYS)
    old = Command.objects.filter(status__in=FINAL_COMMAND_STATUSES, updated_at__lt=cutoff)
    ids = list(old.values_list("pk", flat=True)[:SWEEP_BATCH])
    if not ids:
        return 0
    CommandEvent.objects.filter(command_id__in=ids).delete()
    Command.objects.filter(pk__in=ids).delete()
    return len(ids)


def queue_sweep(*, now: datetime | None = None) -> SweepResult:
    """The periodic job (every minute): offline detection, lost leases, TTL, pruning.
    It is the one place that reads across tenants, as an operator job must."""
    now = now or timezone.now()
    result = SweepResult()
    result.agents_offline = agents_mark_offline(now=now)
    result.leases_requeued, result.commands_dead = leases_requeue_lost(now=now)
    result.commands_expired = commands_expire(now=now)
    result.commands_pruned = commands_prune(now=now)
    return result
