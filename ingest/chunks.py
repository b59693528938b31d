"""Reports sent in chunks (`POST /api/v1/agent/ingest/chunk`): keeping the parts of a
report until the last arrives, within limits, and making one report of them.

What holds, whatever an agent sends (README: Security):

* A report id names one set of `total` chunks: the first chunk stored fixes `total`, a
  chunk announcing another is refused (400 on `total_chunks`), so a report can never be
  assembled from two chunks of three.
* A set holds at most INGEST_MAX_CHUNKS chunks and INGEST_MAX_BYTES bytes; an agent has
  at most INGEST_AGENT_OPEN_REPORTS sets open and INGEST_AGENT_PENDING_BYTES waiting; a
  team at most INGEST_TEAM_PENDING_BYTES waiting, chunks and queued background ingests
  together. Sizes are counted from a column, never by reading the chunks.
* A set not completed within INGEST_CHUNK_TTL_SECONDS is deleted (`chunks_expire`,
  scheduled by a migration).
* Assembling reads one chunk at a time, and each fragment is checked for its decoding
  cost (protocol/limits.py) before it is decoded.
* Two final chunks racing assemble the report once: the assembler claims the set by
  deleting it; the one that deletes nothing stored nothing and answers "already taken".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from ingest.models import Ingest, IngestChunk, IngestStatus
from ingest.parsers import flat
from protocol.limits import check_decoding_cost
from rediverio.api_errors import ApiError
from rediverio.body import too_large

EXPIRE_BATCH = 500
BUSY_RETRY_SECONDS = 60


@dataclass(frozen=True)
class ChunkReceipt:
    """A chunk stored, its set not complete yet."""

    chunk_id: str
    received: int


def chunk_receive(
    *, agent, report_id: str, index: int, total: int, data: bytes, is_final: bool
) -> ChunkReceipt | bytes:
    """Store one chunk. Returns a receipt while the set is incomplete, else the
    assembled report (the set then deleted: the caller stores the report in the same
    transaction, so a refused report leaves the set in place for a corrected final
    chunk or for expiry)."""
    tenant = agent.tenant
    mine = IngestChunk.objects.for_tenant(tenant).filter(agent=agent)
    report = mine.filter(report_id=report_id)
    stored = report.exclude(index=index).aggregate(received=Count("id"), size=Sum("size"))
    announced = report.values_list("total", flat=True).first()
    if announced is not None and announced != total:
        message = (
            f"report {report_id} was announced with {announced} chunks; send every chunk "
            "of a report with the same total_chunks (or the report again under a new id)"
        )
        raise ApiError(400, "VALIDATION_ERROR", message, {"total_chunks": [message]})
    if total > settings.INGEST_MAX_CHUNKS:
        message = f"at most {settings.INGEST_MAX_CHUNKS} chunks per report"
        raise ApiError(400, "VALIDATION_ERROR", message, {"total_chunks": [message]})
    if (stored["size"] or 0) + len(data) > settings.INGEST_MAX_BYTES:
        raise too_large(settings.INGEST_MAX_BYTES)
    if stored["received"] == 0:
        _check_agent_room(mine, report_id, len(data))
    else:
        _check_agent_bytes(mine, report_id, len(data))
    check_team_room(tenant, len(data))

    # A chunk sent again replaces its copy; neither is read (update, not update_or_create).
    again = report.filter(index=index)
    if again.update(total=total, data=data, size=len(data)):
        chunk_id = again.values_list("pk", flat=True).get()
    else:
        chunk_id = IngestChunk.objects.create(
            tenant=tenant,
            agent=agent,
            report_id=report_id,
            index=index,
            total=total,
            data=data,
            size=len(data),
        ).pk
    received = stored["received"] + 1
    if received < total or not (is_final or received == total):
        return ChunkReceipt(chunk_id=str(chunk_id), received=received)
    raw = assemble(lambda: _parts(report))
    claimed, _ = report.delete()
    if claimed != total:
        # Another request assembled this set a moment ago (and deleted it first).
        raise ApiError(
            409,
            "CONFLICT",
            f"report {report_id} is being stored by another request; send the final chunk "
            "again with the report's Idempotency-Key to get its answer",
        )
    return raw


def _check_agent_room(mine, report_id: str, size: int) -> None:
    open_reports = mine.values("report_id").distinct().count()
    if open_reports >= settings.INGEST_AGENT_OPEN_REPORTS:
        raise _busy(
            "INGEST_AGENT_OPEN_REPORTS",
            settings.INGEST_AGENT_OPEN_REPORTS,
            f"this agent already has {open_reports} reports half sent; finish one (or wait "
            f"{settings.INGEST_CHUNK_TTL_SECONDS // 3600 or 1} h for it to expire)",
        )
    _check_agent_bytes(mine, report_id, size)


def _check_agent_bytes(mine, report_id: str, size: int) -> None:
    pending = mine.exclude(report_id=report_id).aggregate(size=Sum("size"))["size"] or 0
    if pending + size > settings.INGEST_AGENT_PENDING_BYTES:
        raise _busy(
            "INGEST_AGENT_PENDING_BYTES",
            settings.INGEST_AGENT_PENDING_BYTES,
            "this agent's half-sent reports already hold "
            f"{pending / 2**20:,.0f} MB; finish them first",
        )


def check_team_room(tenant, size: int) -> None:
    """Refuse bytes a team cannot have waiting: its chunks not yet assembled and its
    reports queued for the background job count together. Checked without a lock, so
    agents sending at the same instant may pass the limit by one chunk or report each."""
    chunks = IngestChunk.objects.for_tenant(tenant).aggregate(size=Sum("size"))["size"] or 0
    queued = (
        Ingest.objects.for_tenant(tenant)
        .filter(status__in=[IngestStatus.QUEUED, IngestStatus.PROCESSING])
        .aggregate(size=Sum("size_bytes"))["size"]
        or 0
    )
    if chunks + queued + size > settings.INGEST_TEAM_PENDING_BYTES:
        raise _busy(
            "INGEST_TEAM_PENDING_BYTES",
            settings.INGEST_TEAM_PENDING_BYTES,
            f"the team already has {(chunks + queued) / 2**20:,.0f} MB of reports waiting to "
            "be stored; try again in a few minutes",
        )


def _busy(limit: str, value: int, message: str) -> ApiError:
    """429: the sender should keep the report and send it again later."""
    error = ApiError(429, "RATE_LIMITED", message, {"limit": limit, "limit_value": value})
    error.wait = BUSY_RETRY_SECONDS  # DRF's exception handler makes it `Retry-After`
    return error


def _parts(report) -> Iterator[bytes]:
    """The set's chunks in order, one in memory at a time."""
    for pk in report.order_by("index").values_list("pk", flat=True):
        yield bytes(IngestChunk.objects.values_list("data", flat=True).get(pk=pk))


@transaction.atomic
def chunks_expire(*, now: datetime | None = None) -> dict[str, int]:
    """Every ten minutes (schedule `ingest-chunks-expire`, declared in a migration):
    delete the chunks of sets begun more than INGEST_CHUNK_TTL_SECONDS ago and still
    incomplete (a set that completes is deleted when it is assembled)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.INGEST_CHUNK_TTL_SECONDS)
    expired = 0
    while True:
        batch = list(
            IngestChunk.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                :EXPIRE_BATCH
            ]
        )
        if not batch:
            return {"chunks_expired": expired}
        expired += IngestChunk.objects.filter(pk__in=batch).delete()[0]


# The chunk's envelope, which the reference SDK repeats inside each fragment.
_ENVELOPE = ("report_id", "chunk_index", "total_chunks", "is_final")
_LISTS = ("assets", "targets", "findings", "dependencies", "runs")


def assemble(parts: Callable[[], Iterable[bytes]] | list[bytes]) -> bytes:
    """One report from its chunks (a list, or a callable giving them afresh in order
    each time it is called): fragments that are reports of their own are merged;
    otherwise the chunks are slices of one document and are concatenated.

    Merging keeps, for each head field (`tool`, `metadata`, `version`…), the first
    fragment's that has it; concatenates the lists; makes one asset of an asset `id`
    that several fragments carry (their `asset_ref`s all point at it) and one target of
    a flat target several fragments repeat, moving `target_index` along (a fragment's
    indices point into its own `targets`, or, when it has none, into those before it);
    and gives RIS fragments, which the reference SDK sends without `version`, the
    version they lack."""
    read = parts if callable(parts) else lambda: iter(parts)
    merger = _merged(read())
    if merger is None or merger.empty:
        return _concatenated(read())
    raw = merger.document()
    if len(raw) > settings.INGEST_MAX_BYTES:
        raise too_large(settings.INGEST_MAX_BYTES)
    return raw


def _merged(parts: Iterable[bytes]) -> _Merger | None:
    """The fragments merged, or None when a chunk is a slice of one document (the
    fragments merged so far, and the last chunk read, are dropped on return)."""
    merger = _Merger()
    for number, part in enumerate(parts):
        fragment = _fragment(part)
        if fragment is None:
            return None
        merger.add(fragment, number)
    return merger


def _fragment(part: bytes) -> dict | None:
    """The chunk as a report fragment, or None when it is a slice of one document."""
    check_decoding_cost(part)
    try:
        fragment = json.loads(part)
    except (ValueError, RecursionError):
        return None
    return fragment if isinstance(fragment, dict) else None


def _concatenated(parts) -> bytes:
    whole = bytearray()
    for part in parts:
        whole += part
        if len(whole) > settings.INGEST_MAX_BYTES:
            raise too_large(settings.INGEST_MAX_BYTES)
    return bytes(whole)


class _Merger:
    def __init__(self):
        self.head: dict = {}
        self.lists: dict[str, list] = {key: [] for key in _LISTS}
        self.present: set[str] = set()
        self.assets_by_id: dict[str, dict] = {}
        self.target_at: dict[str, int] = {}
        self.empty = True

    def add(self, fragment: dict, number: int) -> None:
        self.empty = False
        self.present.update(key for key in _LISTS if key in fragment)
        for key, value in fragment.items():
            if key not in _LISTS and key not in _ENVELOPE and value is not None:
                self.head.setdefault(key, value)
        for asset in _fragment_list(fragment, "assets", number):
            ref = asset.get("id") if isinstance(asset, dict) else None
            if isinstance(ref, str) and ref in self.assets_by_id:
                for field, value in asset.items():  # what a later copy adds is kept
                    self.assets_by_id[ref].setdefault(field, value)
                continue
            if isinstance(ref, str) and ref:
                self.assets_by_id[ref] = asset
            self.lists["assets"].append(asset)
        moved: dict[int, int] = {}
        for index, target in enumerate(_fragment_list(fragment, "targets", number)):
            same = _target_key(target)
            if same not in self.target_at:
                self.target_at[same] = len(self.lists["targets"])
                self.lists["targets"].append(target)
            moved[index] = self.target_at[same]
        for key in ("findings", "dependencies"):
            for item in _fragment_list(fragment, key, number):
                if moved and isinstance(item, dict):
                    # In a fragment with targets of its own, no index means its first.
                    position = item.get("target_index", 0)
                    if position is None:
                        position = 0
                    if type(position) is int and position in moved:
                        item = {**item, "target_index": moved[position]}
                self.lists[key].append(item)
        self.lists["runs"].extend(_fragment_list(fragment, "runs", number))

    def document(self) -> bytes:
        merged = dict(self.head)
        for key, items in self.lists.items():
            if items or key in self.present:
                merged[key] = items
        if "version" not in merged and not flat.recognizes(merged):
            merged["version"] = "1.0"
        return json.dumps(merged).encode()


def _target_key(target) -> str:
    """What makes two flat targets one: their type and identifier (anything else that a
    fragment sends as a target stays itself, for the parser to judge)."""
    if not isinstance(target, dict):
        return f"#{id(target)}"
    return json.dumps([target.get("type"), target.get("identifier")])


def _fragment_list(fragment: dict, key: str, number: int) -> list:
    items = fragment.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        path = f"chunk {number}: {key}"
        raise ApiError(400, "VALIDATION_ERROR", f"{path}: must be an array", {key: [path]})
    return items
