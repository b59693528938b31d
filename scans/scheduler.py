"""The per-minute tick: claim due scans, advance their next run, start them.

django-q2 calls `tick()` once a minute (schedule `scans-tick`, declared in a migration)
from any number of clusters, and may fire late or twice. A tick therefore claims due scans
with `SELECT … FOR UPDATE SKIP LOCKED` (SQLite: its single writer), moves `next_run_at`
past now *before* starting them (a crash then skips a slot rather than running it
twice), and starts them in batches with a fixed
number of queries each. The unique (scan, slot, tool, target) constraint on sessions is
the last guard: a slot can never run twice.

After downtime, the missed slots of a scan are not replayed one by one: one run, marked
`catch_up`, stands for all of them, and the next run is the next slot after now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from rediverio.lib.ids import uuid7
from rediverio.metrics import SCANS_SCHEDULED
from scans.models import Scan, TriggerType
from scans.runs import run_count_started
from scans.services import scans_with_room, session_follow_command
from scans.workflows import start_stage

BATCH = 500


@dataclass
class TickResult:
    due: int = 0
    started: int = 0
    caught_up: int = 0
    skipped: int = 0
    sessions_reconciled: int = 0

    @property
    def found_work(self) -> bool:
        return bool(self.due or self.sessions_reconciled)


def tick(*, now: datetime | None = None) -> TickResult:
    now = now or timezone.now()
    result = TickResult()
    while _tick_batch(now, result):
        pass
    result.sessions_reconciled = reconcile_sessions(now=now)
    return result


@transaction.atomic
def _tick_batch(now: datetime, result: TickResult) -> bool:
    due = list(
        Scan.objects.due(now)
        .select_related("profile")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("next_run_at")[:BATCH]
    )
    if not due:
        return False
    result.due += len(due)
    slots, triggers = {}, {}
    for scan in due:
        slot = scan.next_run_at
        schedule = scan.schedule
        following = schedule.next_after(slot)
        missed = following is not None and following <= now
        slots[scan.pk] = slot
        triggers[scan.pk] = TriggerType.CATCH_UP if missed else TriggerType.SCHEDULED
        scan.next_run_at = schedule.next_after(now)
    Scan.objects.bulk_update(due, ["next_run_at"])
    allowed = {s.pk for s in scans_with_room(due)}
    result.skipped += len(due) - len(allowed)
    for trigger in (TriggerType.SCHEDULED, TriggerType.CATCH_UP):
        batch = [(s, uuid7()) for s in due if s.pk in allowed and triggers[s.pk] == trigger]
        if batch:
            started = _start(batch, trigger=trigger, slots=slots, now=now)
            # Only runs that started a session count (scans/runs.py): not a slot that
            # already ran, not a scan without targets or tools to run.
            run_count_started(started, now=now)
            result.started += len(started)
            if trigger == TriggerType.CATCH_UP:
                result.caught_up += len(started)
    return len(due) == BATCH


def _start(batch, *, trigger: str, slots: dict, now: datetime) -> list:
    """Start the batch's runs; returns the ids of the scans whose run started sessions."""
    try:
        with transaction.atomic():
            runs = start_stage(batch, stage=0, trigger=trigger, now=now, slots=slots)
    except IntegrityError:
        # Another tick already filled some of these slots: start the others one by one.
        runs = []
        for item in batch:
            try:
                with transaction.atomic():
                    runs += start_stage([item], stage=0, trigger=trigger, now=now, slots=slots)
            except IntegrityError:
                continue
    started = [run.scan.pk for run in runs if run.sessions]
    if started:
        transaction.on_commit(lambda: SCANS_SCHEDULED.labels(trigger).inc(len(started)))
    return started


def reconcile_sessions(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Sessions left behind by commands the queue sweep finished (expired, dead): their
    state follows their command. The agent API syncs sessions as agents report; this
    catches what no agent reported."""
    from agents.models import FINAL_COMMAND_STATUSES, Command

    stale = (
        Command.objects.filter(
            status__in=FINAL_COMMAND_STATUSES,
            scan_session__status__in=["pending", "running"],
            type="scan",
        )
        .select_related("scan_session")
        .order_by("updated_at")[:limit]
    )
    count = 0
    for command in stale:
        session_follow_command(command=command, now=now)
        count += 1
    return count
