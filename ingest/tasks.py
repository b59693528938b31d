"""The background jobs of ingest (django-q2): storing a report kept for later, and the
periodic sweeps. What they run is ingest/services.py (and ingest/chunks.py).

A background job can be lost: the Redis broker hands a task out once (no
acknowledgement), so a cluster killed while holding it, or a worker killed midway (a
crash, django-q2's timeout), leaves its ingest queued or processing with nobody on it.
The ingest keeps its report until it is stored, and the per-minute sweep
(`ingest-runs-sweep`) gives such ingests a new job; a report that kills its worker again
and again is abandoned.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ingest.chunks import chunks_expire
from ingest.models import IngestRun, IngestStatus
from ingest.services import failure, ingest_enqueue, ingest_store
from protocol.limits import LimitExceeded
from protocol.report import ReportError

log = logging.getLogger(__name__)


def process_ingest_run(run_id: str) -> str:
    """The background job: ingest a queued report. Returns its final status.

    "processing" is committed first: it says that a job began the run. The job then
    holds the run's row lock until the outcome commits, which says that the job is
    alive; a processing run that nobody holds had its worker die (see the sweep). A
    second job for the same run (the sweep's, or a duplicate) finds it taken or done."""
    with transaction.atomic():
        # The report itself is read once, below, not to mark the run taken.
        run = _locked_run(run_id, IngestStatus.QUEUED).defer("payload").first()
        if run is None:
            return "gone"  # done or being done by another job, or not queued
        run.status = IngestStatus.PROCESSING
        run.save(update_fields=["status"])
    with transaction.atomic():
        # skip_locked: in the instant between the two transactions the sweep may have
        # taken the run back (and queued a job of its own); that job will store it.
        run = _locked_run(run_id, IngestStatus.PROCESSING).first()
        if run is None:
            return "gone"
        raw = zlib.decompress(bytes(run.payload))
        try:
            ingest_store(run, raw)  # a savepoint: a bad report rolls back only its own writes
        except (ReportError, LimitExceeded) as exc:
            run.status = IngestStatus.FAILED
            run.error = failure(exc)
            run.completed_at = timezone.now()
            run.payload = None
            run.save()
    return run.status


def _locked_run(run_id: str, status: str):
    """The run, if it is in `status` and no other job holds it (locked until commit)."""
    return IngestRun.objects.select_for_update(skip_locked=True).filter(pk=run_id, status=status)


# A report that kills its worker this many times (out of memory, django-q2's timeout)
# is abandoned rather than retried for ever.
MAX_INTERRUPTIONS = 3
SWEEP_BATCH = 500


@dataclass
class IngestSweepResult:
    requeued: int = 0
    abandoned: int = 0

    @property
    def found_work(self) -> bool:
        return bool(self.requeued or self.abandoned)


@transaction.atomic
def ingest_runs_requeue(*, now: datetime | None = None) -> IngestSweepResult:
    """Give background ingests whose job is gone a new job.

    A run waiting longer than INGEST_REQUEUE_AFTER_SECONDS that no job holds is either
    queued (its job was lost with a killed cluster, or still waits behind a long
    queue) or processing (its worker died). Either way a new job is queued: a duplicate
    finds the run taken or done and does nothing, so re-queueing is always safe; it is
    not repeated before another INGEST_REQUEUE_AFTER_SECONDS. Runs that a live job
    holds are locked, and skipped. A run interrupted MAX_INTERRUPTIONS times fails."""
    now = now or timezone.now()
    patience = timedelta(seconds=settings.INGEST_REQUEUE_AFTER_SECONDS)
    stale = (
        IngestRun.objects.select_for_update(skip_locked=True)
        .filter(
            status__in=[IngestStatus.QUEUED, IngestStatus.PROCESSING],
            created_at__lt=now - patience,
        )
        .defer("payload")
        .order_by("created_at")[:SWEEP_BATCH]
    )
    result, requeued = IngestSweepResult(), []
    for run in stale:
        if run.requeued_at is not None and run.requeued_at > now - patience:
            continue  # its last new job may still be waiting in the queue
        if run.status == IngestStatus.PROCESSING:
            run.interruptions += 1  # a job began it and no longer holds it: its worker died
        interruptions = run.interruptions
        if interruptions >= MAX_INTERRUPTIONS:
            run.status = IngestStatus.FAILED
            run.error = {
                "code": "INGEST_ABANDONED",
                "message": f"the background job died {interruptions} times on this report",
                "details": {"interruptions": interruptions},
            }
            run.completed_at = now
            run.payload = None
            run.save(update_fields=["status", "error", "completed_at", "payload", "interruptions"])
            result.abandoned += 1
            log.error("ingest run %s abandoned: %s", run.pk, run.error["message"])
            continue
        was = run.status
        run.status = IngestStatus.QUEUED
        run.requeues += 1
        run.requeued_at = now
        run.save(update_fields=["status", "requeues", "interruptions", "requeued_at"])
        requeued.append(run.pk)
        log.warning(
            "ingest run %s was %s for %d s with no live job; queued again",
            run.pk,
            was,
            (now - run.created_at).total_seconds(),
        )
    result.requeued = len(requeued)

    def enqueue_requeued() -> None:
        for run_id in requeued:
            ingest_enqueue(run_id)

    transaction.on_commit(enqueue_requeued)
    return result


def sweep_ingest_runs() -> dict[str, int]:
    """Every minute (schedule `ingest-runs-sweep`, declared in a migration)."""
    return asdict(ingest_runs_requeue())


def expire_chunk_sets() -> dict[str, int]:
    """Every ten minutes (schedule `ingest-chunks-expire`, declared in a migration)."""
    return chunks_expire()
