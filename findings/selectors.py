"""Reads on findings and assets, always scoped to one tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from findings.models import (
    Asset,
    Finding,
    FindingQuerySet,
    FindingSighting,
    FindingStatus,
    Severity,
)
from rediverio.models import Tenant

ONE_DAY = timedelta(days=1)
# The days a date filter may name. The database and Python agree on nothing past year
# 9999 (9999-12-31 plus a day overflows); no finding was seen before 1970 or after 2100.
FILTER_EARLIEST = date(1970, 1, 1)
FILTER_LATEST = date(2100, 12, 31)


def open_findings_by_severity(*, tenant: Tenant) -> dict[str, int]:
    """Open findings per severity, every severity present (zero when none): one query."""
    counts = dict(
        Finding.objects.for_tenant(tenant)
        .open()
        .values_list("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    return {severity: counts.get(severity, 0) for severity in Severity.values}


def asset_count(*, tenant: Tenant) -> int:
    return Asset.objects.for_tenant(tenant).count()


# --------------------------------------------------------------------- the findings list

PAGE_SIZE = 50
ASSET_OPTIONS_MAX = 1000  # the asset filter's drop-down; beyond that, filter from the asset


@dataclass(frozen=True)
class FindingFilters:
    """What the findings list is narrowed to; empty values mean "any"."""

    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    tool: str = ""
    source_category: str = ""
    asset_id: UUID | None = None
    session_id: UUID | None = None
    first_seen_from: date | None = None
    first_seen_to: date | None = None
    last_seen_from: date | None = None
    last_seen_to: date | None = None
    text: str = ""


@dataclass(frozen=True)
class Sort:
    label: str
    field: str  # the finding's column, or "severity" (ranked, most severe first)
    descending: bool


# Every sort ends on the id, so the order is total and a keyset cursor is exact.
SORTS = {
    "-last_seen": Sort("Last seen, newest first", "last_seen_at", descending=True),
    "last_seen": Sort("Last seen, oldest first", "last_seen_at", descending=False),
    "-first_seen": Sort("First seen, newest first", "first_seen_at", descending=True),
    "first_seen": Sort("First seen, oldest first", "first_seen_at", descending=False),
    "severity": Sort("Severity, most severe first", "severity", descending=False),
}
DEFAULT_SORT = "-last_seen"
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity.values)}


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class FindingPage:
    findings: list[Finding]
    next_cursor: str | None  # None on the last page


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _clamped(day: date) -> date:
    # The form refuses days outside the range; other callers get the nearest one rather
    # than an OverflowError (a 500) from `day + ONE_DAY`.
    return min(max(day, FILTER_EARLIEST), FILTER_LATEST)


def findings_filtered(*, tenant: Tenant, filters: FindingFilters) -> FindingQuerySet:
    findings = Finding.objects.for_tenant(tenant)
    f = filters
    if f.severities:
        findings = findings.filter(severity__in=f.severities)
    if f.statuses:
        findings = findings.filter(status__in=f.statuses)
    if f.tool:
        findings = findings.filter(tool_name__iexact=f.tool)
    if f.source_category:
        findings = findings.filter(source_category=f.source_category)
    if f.asset_id:
        findings = findings.filter(asset_id=f.asset_id)
    if f.session_id:
        findings = findings.filter(last_scan_session_id=f.session_id)
    # Date ranges are whole UTC days, both ends included.
    if f.first_seen_from:
        findings = findings.filter(first_seen_at__gte=_day_start(_clamped(f.first_seen_from)))
    if f.first_seen_to:
        findings = findings.filter(
            first_seen_at__lt=_day_start(_clamped(f.first_seen_to) + ONE_DAY)
        )
    if f.last_seen_from:
        findings = findings.filter(last_seen_at__gte=_day_start(_clamped(f.last_seen_from)))
    if f.last_seen_to:
        findings = findings.filter(last_seen_at__lt=_day_start(_clamped(f.last_seen_to) + ONE_DAY))
    if f.text:
        findings = findings.filter(
            Q(title__icontains=f.text)
            | Q(rule_id__icontains=f.text)
            | Q(rule_name__icontains=f.text)
            | Q(file_path__icontains=f.text)
            | Q(cve_id__icontains=f.text)
        )
    return findings


def encode_cursor(finding: Finding, sort: str) -> str:
    """The row's sort key and id, e.g. `2026-11-26T12:00:00+00:00~<uuid>`."""
    key = getattr(finding, SORTS[sort].field)
    return f"{key.isoformat() if isinstance(key, datetime) else key}~{finding.pk}"


def decode_cursor(cursor: str, sort: str) -> tuple[datetime | str, UUID]:
    key, sep, pk = cursor.rpartition("~")
    try:
        if not sep:
            raise ValueError("no separator")
        if SORTS[sort].field == "severity":
            if key not in SEVERITY_RANK:
                raise ValueError(f"unknown severity {key!r}")
            return key, UUID(pk)
        moment = datetime.fromisoformat(key)
        if moment.tzinfo is None:
            raise ValueError("naive timestamp")
        # In UTC here: `0001-01-01T00:00+01:00` is before year 1 there and would
        # overflow in the database adapter instead.
        return moment.astimezone(UTC), UUID(pk)
    except (KeyError, ValueError, OverflowError) as exc:
        raise BadCursor(f"not a cursor for this sort: {cursor!r}") from exc


def _after(sort: Sort, key: datetime | str, pk: UUID) -> Q:
    """Rows strictly after (key, pk) in the sort's order; ids always run newest first."""
    if sort.field == "severity":
        # Written on the column, not on the rank expression, so the severity index helps.
        assert isinstance(key, str)  # decode_cursor: a severity sort's key is its word
        rank = SEVERITY_RANK[key]
        return Q(severity__in=Severity.values[rank + 1 :]) | Q(severity=key, id__lt=pk)
    beyond = "lt" if sort.descending else "gt"
    return Q(**{f"{sort.field}__{beyond}": key}) | Q(**{sort.field: key, "id__lt": pk})


def _ordering(sort: Sort) -> list:
    if sort.field == "severity":
        rank = Case(
            *(When(severity=s, then=Value(n)) for s, n in SEVERITY_RANK.items()),
            output_field=IntegerField(),
        )
        return [rank.asc(), F("id").desc()]
    key = F(sort.field).desc() if sort.descending else F(sort.field).asc()
    return [key, F("id").desc()]


def findings_page(
    *,
    tenant: Tenant,
    filters: FindingFilters,
    sort: str = DEFAULT_SORT,
    after: str | None = None,
    limit: int = PAGE_SIZE,
) -> FindingPage:
    """One page of the list, by keyset: never an OFFSET, never a COUNT, one query.

    `after` is the `next_cursor` of the previous page (BadCursor when it is not one).
    """
    spec = SORTS[sort]
    findings = findings_filtered(tenant=tenant, filters=filters)
    if after:
        findings = findings.filter(_after(spec, *decode_cursor(after, sort)))
    rows = list(
        findings.select_related("asset")
        # The list never shows the long text columns; leave them in the database.
        .defer(
            "description",
            "snippet",
            "metadata",
            "partial_fingerprints",
            "references",
            "asset__description",
            "asset__metadata",
            "asset__tags",
        )
        .order_by(*_ordering(spec))[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return FindingPage(rows, encode_cursor(rows[-1], sort) if more else None)


def asset_options(*, tenant: Tenant) -> QuerySet:
    """(id, name) pairs for the asset filter, lazily: partial refreshes never run it."""
    return (
        Asset.objects.for_tenant(tenant)
        .order_by("name", "pk")
        .values_list("id", "name")[:ASSET_OPTIONS_MAX]
    )


# ------------------------------------------------------------------------- one finding


# The finding page reads its finding, asset and last scan session in one query; the
# view fetches it by id.
FINDING_PAGE_ROWS = Finding.objects.select_related("asset", "last_scan_session")


@dataclass(frozen=True)
class TriageEntry:
    at: datetime | None
    by: str
    from_status: str
    to_status: str
    note: str

    @property
    def from_label(self) -> str:
        return _status_label(self.from_status)

    @property
    def to_label(self) -> str:
        return _status_label(self.to_status)


def _status_label(status: str) -> str:
    return FindingStatus(status).label if status in FindingStatus.values else status


def triage_log(*, finding: Finding) -> list[TriageEntry]:
    """The finding's triage decisions (`metadata["triage"]`), newest first."""
    entries = []
    for raw in reversed((finding.metadata or {}).get("triage") or []):
        if not isinstance(raw, dict):
            continue
        try:
            at = datetime.fromisoformat(raw.get("at", ""))
        except (TypeError, ValueError):
            at = None
        entries.append(
            TriageEntry(
                at=at,
                by=str(raw.get("by", "")),
                from_status=str(raw.get("from", "")),
                to_status=str(raw.get("to", "")),
                note=str(raw.get("note", "")),
            )
        )
    return entries


def new_and_fixed_by_day(*, tenant: Tenant, days: int = 7, now=None) -> list[dict]:
    """Findings first seen and resolved on each of the last `days` days (UTC), oldest
    first: two aggregate queries."""
    today = (now or timezone.now()).date()
    start = today - timedelta(days=days - 1)
    scoped = Finding.objects.for_tenant(tenant)
    new = dict(
        scoped.filter(first_seen_at__date__gte=start)
        .annotate(day=TruncDate("first_seen_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    fixed = dict(
        scoped.filter(status="resolved", resolved_at__date__gte=start)
        .annotate(day=TruncDate("resolved_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [
        {
            "day": start + timedelta(days=i),
            "new": new.get(start + timedelta(days=i), 0),
            "fixed": fixed.get(start + timedelta(days=i), 0),
        }
        for i in range(days)
    ]


SIGHTINGS_SHOWN = 20


def finding_sightings(*, tenant: Tenant, finding: Finding) -> list:
    """The latest scan sessions that reported this finding (one query)."""
    return list(
        FindingSighting.objects.for_tenant(tenant)
        .filter(finding=finding)
        .select_related("scan_session")
        .order_by("-seen_at")[:SIGHTINGS_SHOWN]
    )
