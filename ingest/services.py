"""Ingest: what happens when a report arrives — now (in the request) or in the
background (django-q2), one path. The background jobs themselves are in tasks.py.

parse → the report's scan session → its asset → the pipeline → the session's counts, all
in one transaction (`ingest_store`). Small reports are stored in the request; large ones
are kept (compressed) on their ingest and a django-q2 job stores them, the agent polling
`GET /api/v1/agent/ingest/{id}`.

Every report received is processed, except a retry of a delivery already received (a
replay), which gets the first answer again, marked as a replay, so that an agent that
retries after a lost reply changes nothing. A retry is told by its `Idempotency-Key`
(the same key: the same delivery, whenever it comes), or, without a key, by being the
same agent sending the same bytes for the same scan session and asset within
INGEST_REPLAY_WINDOW_SECONDS. A person uploading a file twice (no key) is processed
twice: the findings' last-seen dates and the session history move on.
"""

from __future__ import annotations

import hashlib
import logging
import time
import zlib
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from findings.models import Asset
from ingest.chunks import check_team_room
from ingest.models import Ingest, IngestStatus
from ingest.parsers import flat, ris, shape
from ingest.pipeline import ingest_report, is_anonymous_asset
from protocol.limits import ReportLimits, check_decoding_cost, reading
from protocol.report import Report, ReportTarget
from rediverio.errors import Conflict
from rediverio.metrics import FINDINGS_INGESTED, INGEST_BATCH_SIZE, INGEST_DURATION
from rediverio.models import Tenant
from scans.models import ScanSession
from scans.services import session_for_ingest, session_record_ingest

log = logging.getLogger(__name__)


def report_limits() -> ReportLimits:
    return ReportLimits(
        findings=settings.INGEST_MAX_FINDINGS,
        targets=settings.INGEST_MAX_ASSETS,
        dependencies=settings.INGEST_MAX_DEPENDENCIES,
    )


def parse(raw: bytes, format: str | None) -> Report:
    """The report in `raw`: flat or RIS (told apart by shape), or any format the parsers
    know, named or detected; within the limits of one report (protocol/limits.py), so no
    shape of input makes its reading cost more than a small multiple of its size."""
    check_decoding_cost(raw)
    with reading(report_limits()):
        return _parse(raw, format)


def _parse(raw: bytes, format: str | None) -> Report:
    if format in ("flat", "ris"):
        document = shape.decode_json(raw)
        # RIS makes `tool` optional, so a RIS report may look like neither: on the RIS
        # endpoint, what is not flat is RIS.
        is_ris = ris.recognizes(document) or (format == "ris" and not flat.recognizes(document))
        return (ris if is_ris else flat).from_document(document)
    from ingest.parsers.detect import parse_report

    return parse_report(raw, format)


class IdempotencyKeyReused(Conflict):
    """An `Idempotency-Key` already used for another report, or by another sender."""

    code = "IDEMPOTENCY_KEY_REUSED"


def ingest_submit(
    *,
    tenant: Tenant,
    raw: bytes,
    format: str | None,
    agent=None,
    user=None,
    options: dict | None = None,
    idempotency_key: str = "",
) -> Ingest:
    """Ingest a report now, or queue it when it is large; answer a retry of a delivery
    already received with that delivery's ingest (`is_replay` set, see the module doc)."""
    options = options or {}
    digest = hashlib.sha256(raw).hexdigest()
    earlier = _earlier_delivery(tenant, digest, agent, user, options, idempotency_key)
    if earlier is not None:
        return earlier
    ingest = Ingest(
        tenant=tenant,
        agent=agent,
        user=user,
        format=format or "auto",
        digest=digest,
        size_bytes=len(raw),
        options=options,
        idempotency_key=idempotency_key,
    )
    try:
        if len(raw) > settings.INGEST_ASYNC_THRESHOLD_BYTES:
            # Refused now rather than by the job: the sender is still there to be told.
            check_decoding_cost(raw)
            check_team_room(tenant, len(raw))
            ingest.payload = zlib.compress(raw, 1)
            with transaction.atomic():
                ingest.save(force_insert=True)
            transaction.on_commit(lambda: ingest_enqueue(ingest.pk))
        else:
            ingest_store(ingest, raw)  # ReportError propagates: the caller answers 400
    except IntegrityError:
        # Two deliveries with one key at once: the unique key let one store the report,
        # and this one (rolled back) answers with it.
        earlier = _earlier_delivery(tenant, digest, agent, user, options, idempotency_key)
        if not idempotency_key or earlier is None:
            raise
        return earlier
    return ingest


def _earlier_delivery(
    tenant: Tenant, digest: str, agent, user, options: dict, idempotency_key: str
) -> Ingest | None:
    """The ingest this delivery is a retry of, marked `is_replay`, or None."""
    if idempotency_key:
        earlier = ingest_for_key(
            tenant=tenant, idempotency_key=idempotency_key, agent=agent, user=user
        )
        if earlier is not None and (earlier.digest, earlier.options) != (digest, options):
            raise IdempotencyKeyReused(
                f"Idempotency-Key {idempotency_key!r} was used for ingest {earlier.pk}, of "
                "another report; use a new key for a new report"
            )
        return earlier
    if agent is None:
        return None  # a person's upload without a key is never a retry
    window = timezone.now() - timedelta(seconds=settings.INGEST_REPLAY_WINDOW_SECONDS)
    # Options (scan session, asset) compared here, not in SQL: JSON equality is not the
    # same on both databases, and few ingests share a digest and an agent.
    candidates = (
        Ingest.objects.for_tenant(tenant)
        .defer("payload")
        .filter(digest=digest, agent=agent, created_at__gte=window)
        .exclude(status=IngestStatus.FAILED)
        .order_by("-created_at")
    )
    earlier = next((r for r in candidates if r.options == options), None)
    if earlier is not None:
        earlier.is_replay = True
    return earlier


def ingest_for_key(*, tenant: Tenant, idempotency_key: str, agent=None, user=None):
    """The ingest stored under `idempotency_key`, marked `is_replay`, or None. A key that
    another sender used is refused (IdempotencyKeyReused), never answered with that
    sender's ingest."""
    earlier = (
        Ingest.objects.for_tenant(tenant)
        .defer("payload")
        .filter(idempotency_key=idempotency_key)
        .first()
    )
    if earlier is None:
        return None
    if (earlier.agent_id, earlier.user_id) != (
        getattr(agent, "pk", None),
        getattr(user, "pk", None),
    ):
        raise IdempotencyKeyReused(
            f"Idempotency-Key {idempotency_key!r} was used by another sender; use a new key"
        )
    earlier.is_replay = True
    return earlier


def ingest_enqueue(ingest_id) -> None:
    """Queue the background job that stores a kept report (ingest/tasks.py)."""
    async_task("ingest.tasks.process_ingest", str(ingest_id))


@transaction.atomic
def ingest_store(ingest: Ingest, raw: bytes) -> None:
    """Store the report of `ingest` (one transaction): parse it, find or start its scan
    session, run the pipeline, record the counts into the session. ReportError and
    LimitExceeded propagate: the caller refuses the report."""
    started = time.perf_counter()
    report = parse(raw, None if ingest.format == "auto" else ingest.format)
    options = ingest.options
    if options.get("coverage"):
        report.coverage = options["coverage"]
    session = session_for_ingest(
        tenant=ingest.tenant,
        scan_id=options.get("scan_session") or report.scan_id,
        scanner_name=report.tool_name or "unknown",
        agent=ingest.agent,
        user=ingest.user,
        trigger="upload" if ingest.user else "ci",
    )
    if not report.tool_name:  # a RIS report without `tool`: the command's scanner ran it
        report.tool_name = session.scanner_name or "unknown"
    result = ingest_report(
        tenant=ingest.tenant,
        report=report,
        default_target=_named_target(options, session),
        scan_session_id=session.pk,
        ingest_id=ingest.pk,
    )
    counts = {
        **result.counts(),
        "findings_total": result.findings_total,
        "by_severity": result.by_severity,
    }
    # Record into the session as it is now, locked: it may have moved on while the
    # report was stored (its agent completes the command right after a 202; another
    # report of the session added its counts). Saving the copy read above would undo
    # that: a finished session back to running for good, counts lost.
    session = ScanSession.objects.select_for_update(no_key=True).get(pk=session.pk)
    session_record_ingest(
        session=session,
        counts=counts,
        tool_name=report.tool_name,
        tool_version=report.tool_version,
        asset=Asset.objects.for_tenant(ingest.tenant).filter(pk__in=result.asset_ids[:1]).first(),
        started_at=report.started_at,
        finished_at=report.finished_at,
    )
    transaction.on_commit(
        lambda: _count(ingest.format, len(report.findings), result, time.perf_counter() - started)
    )
    ingest.scan_session = session
    ingest.status = IngestStatus.COMPLETED
    ingest.result = {"scan_id": str(session.pk), **result.counts()}
    ingest.completed_at = timezone.now()
    ingest.payload = None
    ingest.save()


def _named_target(options: dict, session: ScanSession) -> ReportTarget | None:
    """The asset a report that names none belongs to, when the sender named it: the
    `asset` option, else the target of the scan session the report answers (the command
    it was sent for). A session that is only the record of an earlier unnamed report
    (its asset one of `default_target_for`'s own) names nothing."""
    if options.get("asset"):
        return ReportTarget(identifier=options["asset"], type=options.get("asset_type", ""))
    asset = session.asset
    if asset is not None and not is_anonymous_asset(asset):
        return ReportTarget(identifier=asset.identifier, type=asset.type)
    if asset is None and session.asset_value:
        return ReportTarget(identifier=session.asset_value, type=session.asset_type)
    return None


def _count(format: str, findings: int, result, seconds: float) -> None:
    """Metrics of a committed ingest (a rolled-back one stored nothing)."""
    INGEST_BATCH_SIZE.observe(findings)
    INGEST_DURATION.labels(format).observe(seconds)
    for outcome in ("created", "updated", "skipped", "reopened", "fixed"):
        count = getattr(result, f"findings_{outcome}")
        if count:
            FINDINGS_INGESTED.labels(outcome).inc(count)
