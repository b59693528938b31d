"""The background jobs of ingest (django-q2): storing a report kept for later, and the
periodic sweeps. What they run is ingest/services.py (and ingest/chunks.py).

A background job can be lost: the Redis broker hands a task out once (no
acknowledgement), so a cluster killed while holding it, or a worker killed midway (a
crash, django-q2's timeout), leaves its ingest queued or processing with nobody on it.
The ingest keeps its report until it is stored, and the per-minute sweep
(`ingests-sweep`) gives such ingests a new job; a report that kills its worker again
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
from ingest.models import Ingest, IngestStatus
from ingest.services import ingest_enqueue, ingest_store
from protocol.limits import LimitExceeded
from protocol.report import ReportError

log = logging.getLogger(__name__)


def process_ingest(ingest_id: str) -> str:
    """The background job: ingest a queued report. Returns its final status.

    "processing" is committed first: it says that a job began the ingest. The job then
    holds the ingest's row lock until the outcome commits, which says that the job is
    alive; a processing ingest that nobody holds had its worker die (see the sweep). A
    second job for the same ingest (the sweep's, or a duplicate) finds it taken or done."""
    with transaction.atomic():
        # The report itself is read once, below, not to mark the ingest taken.
        ingest = _locked_ingest(ingest_id, IngestStatus.QUEUED).defer("payload").first()
        if ingest is None:
            return "gone"  # done or being done by another job, or not queued
        ingest.status = IngestStatus.PROCESSING
        ingest.save(update_fields=["status"])
    with transaction.atomic():
        # skip_locked: in the instant between the two transactions the sweep may have
        # taken the ingest back (and queued a job of its own); that job will store it.
        ingest = _locked_ingest(ingest_id, IngestStatus.PROCESSING).first()
        if ingest is None:
            return "gone"
        raw = zlib.decompress(bytes(ingest.payload))
        try:
            ingest_store(ingest, raw)  # a savepoint: a bad report rolls back only its own writes
        except (ReportError, LimitExceeded) as exc:
            ingest.status = IngestStatus.FAILED
            ingest.error = exc.error()
            ingest.completed_at = timezone.now()
            ingest.payload = None
            ingest.save()
    return ingest.status


def _locked_ingest(ingest_id: str, status: str):
    """The ingest, if it is in `status` and no other job holds it (locked until commit)."""
    return Ingest.objects.select_for_update(skip_locked=True).filter(pk=ingest_id, status=status)


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
def ingests_requeue(*, now: datetime | None = None) -> IngestSweepResult:
    """Give background ingests whose job is gone a new job.

    An ingest waiting longer than INGEST_REQUEUE_AFTER_SECONDS that no job holds is
    either queued (its job was lost with a killed cluster, or still waits behind a long
    queue) or processing (its worker died). Either way a new job is queued: a duplicate
    finds the ingest taken or done and does nothing, so re-queueing is always safe; it
    is not repeated before another INGEST_REQUEUE_AFTER_SECONDS. Ingests that a live
    job holds are locked, and skipped. An ingest interrupted MAX_INTERRUPTIONS times
    fails."""
    now = now or timezone.now()
    patience = timedelta(seconds=settings.INGEST_REQUEUE_AFTER_SECONDS)
    stale = (
        Ingest.objects.select_for_update(skip_locked=True)
        .filter(
            status__in=[IngestStatus.QUEUED, IngestStatus.PROCESSING],
            created_at__lt=now - patience,
        )
        .defer("payload")
        .order_by("created_at")[:SWEEP_BATCH]
    )
    result, requeued = IngestSweepResult(), []
    for ingest in stale:
        if ingest.requeued_at is not None and ingest.requeued_at > now - patience:
            continue  # its last new job may still be waiting in the queue
        if ingest.status == IngestStatus.PROCESSING:
            ingest.interruptions += 1  # a job began it and no longer holds it: its worker died
        interruptions = ingest.interruptions
        if interruptions >= MAX_INTERRUPTIONS:
            ingest.status = IngestStatus.FAILED
            ingest.error = {
                "code": "INGEST_ABANDONED",
                "message": f"the background job died {interruptions} times on this report",
                "details": {"interruptions": interruptions},
            }
            ingest.completed_at = now
            ingest.payload = None
            ingest.save(
                update_fields=["status", "error", "completed_at", "payload", "interruptions"]
            )
            result.abandoned += 1
            log.error("ingest %s abandoned: %s", ingest.pk, ingest.error["message"])
            continue
        was = ingest.status
        ingest.status = IngestStatus.QUEUED
        ingest.requeues += 1
        ingest.requeued_at = now
        ingest.save(update_fields=["status", "requeues", "interruptions", "requeued_at"])
        requeued.append(ingest.pk)
        log.warning(
            "ingest %s was %s for %d s with no live job; queued again",
            ingest.pk,
            was,
            (now - ingest.created_at).total_seconds(),
        )
    result.requeued = len(requeued)

    def enqueue_requeued() -> None:
        for ingest_id in requeued:
            ingest_enqueue(ingest_id)

    transaction.on_commit(enqueue_requeued)
    return result


def sweep_ingests() -> dict[str, int]:
    """Every minute (schedule `ingests-sweep`, declared in migrations 0002 and 0009)."""
    return asdict(ingests_requeue())


def expire_chunk_sets() -> dict[str, int]:
    """Every ten minutes (schedule `ingest-chunks-expire`, declared in a migration)."""
    return chunks_expire()


# The names these jobs had before ingests were called ingests (ingest/migrations/0009):
# a task is queued as the dotted path of its function, so jobs queued under the old
# names before an upgrade (in Redis or django-q2's ORM broker) still find them.
process_ingest_run = process_ingest
sweep_ingest_runs = sweep_ingests
