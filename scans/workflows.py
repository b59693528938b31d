"""Turning a scan into work, stage by stage.

A run is every session one trigger starts (they share a `run_id`). A single-scanner
scan has one stage of one tool; a workflow scan has ordered stages of tools. A stage
starts one session per (tool, target) and one command per session; when every session
of a stage has finished, the next stage starts, unless one failed and the stage does
not say `continue_on_failure`. All of it works on batches of scans, with a fixed number
of queries per batch, because the scheduler may start thousands of runs in one tick.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count

from agents.models import Agent, Command, CommandType
from agents.queue import HELD_STATUSES, commands_enqueue_many
from agents.selection import WORK_TYPES, Requirements, evaluate_agents
from findings.models import Asset
from findings.rules.categories import source_category_for_tool
from protocol.commands import ScanCommand
from rediverio.lib.ids import uuid7
from scans.models import FINAL_SESSION_STATUSES, Scan, ScanProfile, ScanSession, SessionStatus
from scans.runs import current_sessions, run_close, run_is_active

WAITING_NOTE = "waiting for an agent"


@dataclass
class StartedRun:
    scan: Scan
    run_id: uuid.UUID
    sessions: list[ScanSession] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    # When it started nothing: why, as (the scan setting at fault, a message).
    idle_because: tuple[str, str] | None = None


def targets_of(scans: list[Scan]) -> dict:
    """Each scan's target assets: those picked by hand plus those carrying the scan's
    asset-group tag. Two queries for the whole batch."""
    targets: dict = defaultdict(dict)
    through = Scan.targets.through
    picked = (
        through.objects.filter(scan_id__in=[s.pk for s in scans])
        .select_related("asset")
        .order_by("asset__name")
    )
    for link in picked:
        targets[link.scan_id][link.asset_id] = link.asset
    grouped = [s for s in scans if s.asset_group]
    if grouped:
        tenant_ids = {s.tenant_id for s in grouped}
        tagged = Asset.objects.filter(tenant_id__in=tenant_ids).exclude(tags=[])
        for asset in tagged:
            for scan in grouped:
                if scan.tenant_id == asset.tenant_id and scan.asset_group in asset.tags:
                    targets[scan.pk].setdefault(asset.pk, asset)
    return {scan.pk: list(targets[scan.pk].values()) for scan in scans}


def tool_config(scan: Scan, tool: str) -> tuple[dict, int]:
    """The scanner configuration and timeout of `tool`: the profile's settings for the
    tool, overridden by the scan's own."""
    profile = scan.profile
    settings = (profile.tools_config.get(tool, {}) if profile else {}) or {}
    config = dict(settings.get("options") or {})
    if settings.get("severity"):
        config["min_severity"] = settings["severity"]
    config.update(scan.scanner_config or {})
    timeout = settings.get("timeout") or (profile.timeout_seconds if profile else 3600)
    return config, int(timeout)


def tool_enabled(profile: ScanProfile | None, tool: str) -> bool:
    """Whether `tool` runs under `profile`: a profile switches a tool off with
    `enabled: false`; a tool the profile does not mention runs with its defaults."""
    settings = (profile.tools_config.get(tool) if profile else None) or {}
    return settings.get("enabled", True) is not False


def stage_tools(scan: Scan, stage: int) -> list[str]:
    """The tools stage `stage` runs: its tools minus those the profile disabled."""
    return [tool for tool in scan.stages[stage]["tools"] if tool_enabled(scan.profile, tool)]


def runnable_stage(scan: Scan, stage: int) -> int | None:
    """The first stage from `stage` on that has a tool to run, or None. A stage whose
    tools are all disabled is skipped, as if the workflow did not have it."""
    for index in range(stage, len(scan.stages)):
        if stage_tools(scan, index):
            return index
    return None


def command_requirements(scan: Scan, tool: str) -> Requirements:
    """What a command running `tool` for `scan` asks of its agent (the tool, the
    capability it needs, the scan's tags and runner flag). The command carries it and
    the "waiting for an agent" note is judged against it, so the two cannot disagree."""
    return Requirements.for_scan(
        tool=tool, tags=scan.tags, run_on_tenant_runner=scan.run_on_tenant_runner
    )


def start_stage(
    scans_and_runs: list[tuple[Scan, uuid.UUID]],
    *,
    stage: int,
    trigger: str,
    now: datetime,
    slots: dict | None = None,
    by=None,
    retry_of: ScanSession | None = None,
) -> list[StartedRun]:
    """Start stage `stage` of each (scan, run): its sessions and their commands. With
    `retry_of`, only a new attempt of that session (its tool on its target).

    Tools the scan's profile disabled are not queued; a stage left with none is skipped
    for the next one that has some (not for a retry, which reruns its own stage). A run
    that starts nothing says why in `idle_because`."""
    slots = slots or {}
    scans = [scan for scan, _ in scans_and_runs]
    targets = targets_of(scans)
    waiting = _routing_notes(scans, now)
    started, sessions, commands = [], [], []
    for scan, run_id in scans_and_runs:
        run = StartedRun(scan, run_id)
        stages = scan.stages
        if stage >= len(stages):
            continue
        at = stage if retry_of is not None else runnable_stage(scan, stage)
        if at is None:
            run.idle_because = ("profile", "every tool of the scan is disabled in its profile")
            started.append(run)
            continue
        if not targets[scan.pk]:
            run.idle_because = ("targets", "the scan has no target assets")
        for tool in stage_tools(scan, at):
            config, timeout = tool_config(scan, tool)
            needs = command_requirements(scan, tool)
            for asset in targets[scan.pk]:
                if retry_of is not None and (tool, asset.pk) != (
                    retry_of.scanner_name,
                    retry_of.asset_id,
                ):
                    continue
                session = ScanSession(
                    id=uuid7(),
                    tenant_id=scan.tenant_id,
                    scan=scan,
                    run_id=run_id,
                    trigger=trigger,
                    stage=at,
                    scheduled_for=slots.get(scan.pk),
                    status=SessionStatus.PENDING,
                    scanner_name=tool,
                    scanner_type=(source_category_for_tool(tool) or ""),
                    asset=asset,
                    asset_type=asset.type,
                    asset_value=asset.identifier,
                    created_by=by,
                    retry_of=retry_of,
                    error_message=waiting.get(_routing_key(scan, tool), ""),
                )
                command = Command(
                    id=uuid7(),
                    tenant_id=scan.tenant_id,
                    type=CommandType.SCAN,
                    priority=scan.priority,
                    payload=ScanCommand(
                        scanner=tool,
                        target=asset.identifier,
                        target_type=asset.type,
                        config=config,
                        timeout_seconds=timeout,
                        scan_id=str(session.pk),
                        scan_definition_id=str(scan.pk),
                        run_id=str(run_id),
                        stage=at,
                    ).to_wire(),
                    required_capabilities=list(needs.capabilities),
                    required_tools=list(needs.tools),
                    tags=list(needs.tags),
                    run_on_tenant_runner=needs.run_on_tenant_runner,
                    scan=scan,
                    scan_session=session,
                )
                run.sessions.append(session)
                run.commands.append(command)
        sessions += run.sessions
        commands += run.commands
        started.append(run)
    ScanSession.objects.bulk_create(sessions, batch_size=1000)
    commands_enqueue_many(commands, now=now)
    return started


def _routing_notes(scans: list[Scan], now: datetime) -> dict:
    """Why a scan's work would wait, per (tenant, tool, tags, runner flag), when no
    agent of the tenant can take it now (for the runs page; the work stays queued and
    starts when a suitable agent polls). Two queries for the whole batch."""
    tenant_ids = {s.tenant_id for s in scans}
    agents = list(Agent.objects.filter(tenant_id__in=tenant_ids).order_by("name"))
    running = dict(
        # Only work fills a job slot (agents.queue.held_work_count).
        Command.objects.filter(agent__in=agents, status__in=HELD_STATUSES, type__in=WORK_TYPES)
        .values_list("agent_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    notes = {}
    for scan in scans:
        tenant_agents = [a for a in agents if a.tenant_id == scan.tenant_id]
        for stage in range(len(scan.stages)):
            for tool in stage_tools(scan, stage):
                key = _routing_key(scan, tool)
                if key in notes:
                    continue
                needs = command_requirements(scan, tool)
                verdicts = evaluate_agents(tenant_agents, needs, running)
                if any(v.eligible for v in verdicts):
                    notes[key] = ""
                elif not verdicts:
                    notes[key] = f"{WAITING_NOTE}: this team has none"
                else:
                    why = "; ".join(f"{v.agent.name}: {', '.join(v.reasons)}" for v in verdicts[:5])
                    notes[key] = f"{WAITING_NOTE} able to run {tool} ({why})"[:2000]
    return notes


def _routing_key(scan: Scan, tool: str) -> tuple:
    return (scan.tenant_id, tool, tuple(scan.tags), scan.run_on_tenant_runner)


def advance(session: ScanSession, *, now: datetime) -> list[StartedRun]:
    """After `session` finished: start the run's next stage when its stage is over, or
    close the run (scans/runs.py) when nothing is left to run: it was the last stage, a
    failure or a stop ends the pipeline, or the next stage already ran (a retry)."""
    if session.scan_id is None:
        return []
    # The sessions of one scan finish in turns on its row: otherwise the last two of a
    # stage, finishing together, each see the other still running (neither commit is
    # visible to the other) and nobody starts the next stage or closes the run. NO KEY
    # lets new sessions (foreign keys to the scan) be inserted meanwhile.
    scan = (
        Scan.objects.select_for_update(no_key=True, of=("self",))
        .select_related("profile")
        .get(pk=session.scan_id)
    )
    siblings = list(ScanSession.objects.for_tenant(session.tenant_id).filter(run_id=session.run_id))
    current = current_sessions(siblings)
    stage_sessions = [s for s in current if s.stage == session.stage]
    if any(s.status not in FINAL_SESSION_STATUSES for s in stage_sessions):
        return []
    stages = scan.stages
    stopped = any(s.status == SessionStatus.CANCELED for s in stage_sessions)
    failed = any(s.status != SessionStatus.COMPLETED for s in stage_sessions)
    may_continue = not stopped and (
        not failed or (session.stage < len(stages) and stages[session.stage]["continue_on_failure"])
    )
    following = session.stage + 1
    # A stage runs once per run: a retried session does not start what already ran.
    if may_continue and following < len(stages) and not any(s.stage >= following for s in siblings):
        trigger = next((s.trigger for s in siblings if s.retry_of_id is None), session.trigger)
        started = start_stage([(scan, session.run_id)], stage=following, trigger=trigger, now=now)
        if any(run.sessions for run in started):
            return started
    if run_is_active(current):
        return []  # another stage of the run is still at work (a retry's)
    run_close(scan, current)
    return []
