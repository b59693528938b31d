"""Run accounting: how a scan counts its runs, and when a run's outcome is decided.

A *run* is one trigger of a scan: every session that trigger starts shares its `run_id`
(one per tool and target, stage after stage). A retry is a new *attempt* of one session,
in the same run (`ScanSession.retry_of`); the run's *current* sessions are its latest
attempts. The invariant, for every scan at every moment:

    total_runs = successful_runs + failed_runs + canceled_runs + active runs

where an active run is one with a current session still pending or running. It holds
because each counter moves at exactly one place, under the scan's row lock:

- `total_runs` + 1 when a run starts with at least one session (a trigger, a tick);
  never for a retry, a slot that was already filled, or a run that started nothing;
- one outcome counter + 1 when the last current session of a run finishes and no
  further stage starts (`run_close`): the outcome follows from all its current
  sessions, canceled before failed before successful;
- that outcome counter − 1 when a retry reopens a finished run (`run_reopen`); the run is
  active again, and decided again when its new attempt finishes.

Sessions never leave a final state, so the outcome recomputed at reopening is the one
counted at closing. `run_counts_of` recomputes every counter from the sessions alone:
the tests compare the two after every step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F

from scans.models import FINAL_SESSION_STATUSES, Scan, ScanSession, SessionStatus

OUTCOME_COUNTERS = {
    SessionStatus.COMPLETED: "successful_runs",
    SessionStatus.FAILED: "failed_runs",
    SessionStatus.CANCELED: "canceled_runs",
}


def current_sessions(sessions: Iterable[ScanSession]) -> list[ScanSession]:
    """The latest attempt of each session of a run: those no retry replaced."""
    sessions = list(sessions)
    replaced = {s.retry_of_id for s in sessions if s.retry_of_id is not None}
    return [s for s in sessions if s.pk not in replaced]


def run_is_active(sessions: Iterable[ScanSession]) -> bool:
    return any(s.status not in FINAL_SESSION_STATUSES for s in current_sessions(sessions))


def run_outcome(sessions: Iterable[ScanSession]) -> SessionStatus:
    """A finished run's outcome from its current sessions: canceled when a person (or a
    deletion) stopped any of them, else failed when any failed, else completed."""
    statuses = {s.status for s in current_sessions(sessions)}
    if SessionStatus.CANCELED in statuses:
        return SessionStatus.CANCELED
    if SessionStatus.FAILED in statuses:
        return SessionStatus.FAILED
    return SessionStatus.COMPLETED


def run_count_started(scan_ids: Iterable, *, now) -> None:
    """Runs that started at least one session: each counts once, when it starts."""
    Scan.objects.filter(pk__in=list(scan_ids)).update(
        total_runs=F("total_runs") + 1, last_run_at=now
    )


def run_close(scan: Scan, sessions: Iterable[ScanSession]) -> str:
    """Count a finished run under its outcome. Call with the scan's row locked, once the
    run's last current session is final and no next stage starts."""
    outcome = run_outcome(sessions)
    counter = OUTCOME_COUNTERS[outcome]
    Scan.objects.filter(pk=scan.pk).update(**{counter: F(counter) + 1})
    return outcome


def run_reopen(scan: Scan, sessions: Iterable[ScanSession]) -> None:
    """A retry makes a finished run active again: its outcome no longer counts. Call with
    the scan's row locked, before the new attempt is created."""
    counter = OUTCOME_COUNTERS[run_outcome(sessions)]
    Scan.objects.filter(pk=scan.pk).update(**{counter: F(counter) - 1})


@dataclass(frozen=True)
class RunCounts:
    total_runs: int = 0
    successful_runs: int = 0
    failed_runs: int = 0
    canceled_runs: int = 0
    active_runs: int = 0

    @property
    def adds_up(self) -> bool:
        return self.total_runs == (
            self.successful_runs + self.failed_runs + self.canceled_runs + self.active_runs
        )


def run_counts_of(scan: Scan) -> RunCounts:
    """Every counter recomputed from the scan's sessions: what the stored ones must be."""
    return run_counts_from(ScanSession.objects.filter(scan=scan))


def run_counts_from(sessions: Iterable[ScanSession]) -> RunCounts:
    """The run counters that one scan's sessions make."""
    runs: dict = {}
    for session in sessions:
        runs.setdefault(session.run_id, []).append(session)
    tally: Counter = Counter()
    for run in runs.values():
        if run_is_active(run):
            tally["active_runs"] += 1
        else:
            tally[OUTCOME_COUNTERS[run_outcome(run)]] += 1
    return RunCounts(total_runs=len(runs), **tally)
