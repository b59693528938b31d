"""Running an ingest: now (in the request) or in the background (django-q2), one path.

parse → the report's scan session → the pipeline → the session's counts, all in one
transaction. Small reports run in the request; large ones are stored (compressed) and a
django-q2 job runs them, the agent polling `GET /api/v1/agent/ingest/{id}`. A report
re-sent unchanged within the replay window gets the first answer again, so an agent that
retries after a lost reply changes nothing.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from findings.models import Asset
from ingest.models import IngestRun, IngestStatus
from ingest.parsers import flat, ris, shape
from ingest.pipeline import ingest_report
from ingest.report import Report, ReportError, ReportTarget
from rediverio.metrics import FINDINGS_INGESTED, INGEST_BATCH_SIZE, INGEST_DURATION
from rediverio.models import Tenant
from scans.services import session_for_ingest, session_record_ingest


def parse(raw: bytes, format: str | None) -> Report:
    """The report in `raw`: flat or RIS (told apart by shape), or any format the parsers
    know, named or detected."""
    if format in ("flat", "ris"):
        document = shape.decode_json(raw)
        return (ris if ris.recognizes(document) else flat).from_document(document)
    from ingest.parsers.detect import parse_report

    return parse_report(raw, format)


def ingest_submit(
    *,
    tenant: Tenant,
    raw: bytes,
    format: str | None,
    agent=None,
    user=None,
    options: dict | None = None,
) -> IngestRun:
    """Ingest a report now, or queue it when it is large; replay a recent identical one."""
    options = options or {}
    digest = hashlib.sha256(raw).hexdigest()
    window = timezone.now() - timedelta(seconds=settings.INGEST_REPLAY_WINDOW_SECONDS)
    replay = (
        IngestRun.objects.for_tenant(tenant)
        .filter(digest=digest, agent=agent, user=user, created_at__gte=window, options=options)
        .exclude(status=IngestStatus.FAILED)
        .first()
    )
    if replay is not None:
        return replay
    if len(raw) > settings.INGEST_ASYNC_THRESHOLD_BYTES:
        run = IngestRun.objects.create(
            tenant=tenant,
            agent=agent,
            user=user,
            format=format or "auto",
            digest=digest,
            size_bytes=len(raw),
            options=options,
            payload=zlib.compress(raw, 1),
        )
        transaction.on_commit(lambda: async_task("ingest.tasks.process_ingest_run", str(run.pk)))
        return run
    run = IngestRun(
        tenant=tenant,
        agent=agent,
        user=user,
        format=format or "auto",
        digest=digest,
        size_bytes=len(raw),
        options=options,
    )
    _run(run, raw)  # ReportError propagates: the caller answers 400
    return run


def process_ingest_run(run_id: str) -> str:
    """The background job: ingest a queued report. Returns its final status."""
    with transaction.atomic():
        run = (
            IngestRun.objects.select_for_update(skip_locked=True)
            .filter(pk=run_id, status=IngestStatus.QUEUED)
            .first()
        )
        if run is None:
            return "gone"  # done by another worker, or not queued
        run.status = IngestStatus.PROCESSING
        run.save(update_fields=["status"])
    raw = zlib.decompress(bytes(run.payload))
    try:
        _run(run, raw)
    except ReportError as exc:
        run.status = IngestStatus.FAILED
        run.error = {"code": "VALIDATION_ERROR", "message": str(exc), "details": exc.errors}
        run.completed_at = timezone.now()
        run.payload = None
        run.save()
    return run.status


@transaction.atomic
def _run(run: IngestRun, raw: bytes) -> None:
    started = time.perf_counter()
    report = parse(raw, None if run.format == "auto" else run.format)
    options = run.options
    if options.get("coverage"):
        report.coverage = options["coverage"]
    default_target = None
    if options.get("asset"):
        default_target = ReportTarget(
            identifier=options["asset"], type=options.get("asset_type", "")
        )
        if not report.targets:
            report.targets = [default_target]
    session = session_for_ingest(
        tenant=run.tenant,
        scan_id=options.get("scan_session") or report.scan_id,
        scanner_name=report.tool_name,
        agent=run.agent,
        user=run.user,
        trigger="upload" if run.user else "ci",
    )
    result = ingest_report(
        tenant=run.tenant, report=report, default_target=default_target, scan_session_id=session.pk
    )
    counts = {
        **result.counts(),
        "findings_total": result.findings_total,
        "by_severity": result.by_severity,
    }
    session_record_ingest(
        session=session,
        counts=counts,
        tool_name=report.tool_name,
        tool_version=report.tool_version,
        asset=Asset.objects.for_tenant(run.tenant).filter(pk=result.asset_ids[0]).first(),
        started_at=report.started_at,
        finished_at=report.finished_at,
    )
    transaction.on_commit(
        lambda: _count(run.format, len(report.findings), result, time.perf_counter() - started)
    )
    run.scan_session = session
    run.status = IngestStatus.COMPLETED
    run.result = {"scan_id": str(session.pk), **result.counts()}
    run.completed_at = timezone.now()
    run.payload = None
    run.save()


def _count(format: str, findings: int, result, seconds: float) -> None:
    """Metrics of a committed ingest (a rolled-back one stored nothing)."""
    INGEST_BATCH_SIZE.observe(findings)
    INGEST_DURATION.labels(format).observe(seconds)
    for outcome in ("created", "updated", "skipped", "reopened", "fixed"):
        count = getattr(result, f"findings_{outcome}")
        if count:
            FINDINGS_INGESTED.labels(outcome).inc(count)
