"""The validation boundary between the parsers and the database.

Parsers check that a report is well formed (types, required fields, names of every
problem); this module makes what they produced fit the columns it is stored in. It
runs once, at the top of `ingest_report`, whatever the format, so no parser (nor an
agent building `Report` objects itself) can hand the database a value it refuses:

- integers beyond their column (line 2**40, confidence 70,000) are clamped to it;
- scores outside their scale (cvss 0–10, epss 0–1) are clamped; a score that is not a
  finite number is dropped;
- NaN and ±Infinity anywhere in the JSON details (which Python's `json` accepts but
  neither JSONB nor SQLite's JSON_VALID do) become null;
- report times outside 1970–2100, or that cannot be told in UTC, are ignored, and a
  start after the end drops the end.

Each change adds one note to `report.warnings` (the reply's `errors`): the report is
kept — never lose what an agent sent — and its author learns what was adjusted.
Django-free: only the column sizes of findings/models.py are repeated here (a test
compares them).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from protocol.report import Report, ReportFinding

# PositiveIntegerField / PositiveSmallIntegerField: the ranges every database Django
# supports agrees on (PostgreSQL integer and smallint).
INTEGER_MAX = 2_147_483_647
LINE_FIELDS = ("start_line", "end_line", "start_column", "end_column")
CONFIDENCE_RANGE = (0, 100)
CVSS_RANGE = (0.0, 10.0)
EPSS_RANGE = (0.0, 1.0)
# A report's times: anything before the Unix epoch or after 2100 is a broken clock or
# a placeholder (0001-01-01, 9999-12-31), not when a scan ran. A clock merely ahead of
# ours is tolerated here; scans.services.session_record_ingest decides what it believes.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def bound_report(report: Report) -> Report:
    """Make `report` storable (in place, and returned), noting each change in
    `report.warnings`."""
    notes = report.warnings
    report.metadata = _finite_json(report.metadata, "metadata", notes)
    report.branch = _finite_json(report.branch, "metadata.branch", notes)
    for index, target in enumerate(report.targets):
        target.metadata = _finite_json(target.metadata, f"targets[{index}].metadata", notes)
    for index, finding in enumerate(report.findings):
        _bound_finding(finding, f"findings[{index}]", notes)
    _bound_times(report, notes)
    return report


def _bound_finding(finding: ReportFinding, path: str, notes: list[str]) -> None:
    for name in LINE_FIELDS:
        value = getattr(finding, name)
        if value is not None:
            setattr(finding, name, _clamp_int(value, 0, INTEGER_MAX, f"{path}.{name}", notes))
    if finding.confidence is not None:
        finding.confidence = _clamp_int(
            finding.confidence, *CONFIDENCE_RANGE, f"{path}.confidence", notes
        )
    finding.cvss_score = _clamp_score(finding.cvss_score, CVSS_RANGE, f"{path}.cvss_score", notes)
    finding.epss_score = _clamp_score(finding.epss_score, EPSS_RANGE, f"{path}.epss_score", notes)
    finding.metadata = _finite_json(finding.metadata, f"{path}.metadata", notes)


def _clamp_int(value: Any, low: int, high: int, path: str, notes: list[str]) -> int | None:
    if isinstance(value, float):
        if not math.isfinite(value):
            notes.append(f"{path}: {value} is not a number; dropped")
            return None
        value = int(value)
    if value < low or value > high:
        clamped = min(max(value, low), high)
        notes.append(f"{path}: {_short(value)} is outside {low}–{high}; stored as {clamped}")
        return clamped
    return value


def _clamp_score(
    value: float | None, bounds: tuple[float, float], path: str, notes: list[str]
) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (OverflowError, TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        notes.append(f"{path}: {_short(value)} is not a finite number; dropped")
        return None
    low, high = bounds
    if number < low or number > high:
        clamped = min(max(number, low), high)
        notes.append(f"{path}: {_short(value)} is outside {low:g}–{high:g}; stored as {clamped:g}")
        return clamped
    return number


def _finite_json(value: Any, path: str, notes: list[str]) -> Any:
    """`value` with every NaN/±Infinity made None; one note per document."""
    replaced: list[str] = []
    cleaned = _without_non_finite(value, path, replaced)
    if replaced:
        more = f" (and {len(replaced) - 1} more)" if len(replaced) > 1 else ""
        notes.append(f"{replaced[0]}: NaN and Infinity are not JSON; stored as null{more}")
    return cleaned


def _without_non_finite(value: Any, path: str, replaced: list[str]) -> Any:
    # Walks only when needed: a document without floats is returned as it came.
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        replaced.append(path)
        return None
    if isinstance(value, dict):
        return {k: _without_non_finite(v, f"{path}.{k}", replaced) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_non_finite(v, f"{path}[{i}]", replaced) for i, v in enumerate(value)]
    return value


def _bound_times(report: Report, notes: list[str]) -> None:
    report.started_at = _sane_time(report.started_at, "started_at", notes)
    report.finished_at = _sane_time(report.finished_at, "finished_at", notes)
    if report.started_at and report.finished_at and report.started_at > report.finished_at:
        notes.append(
            f"finished_at: {report.finished_at.isoformat()} is before started_at "
            f"{report.started_at.isoformat()}; ignored"
        )
        report.finished_at = None


def _sane_time(moment: datetime | None, name: str, notes: list[str]) -> datetime | None:
    if moment is None:
        return None
    try:
        utc = moment.astimezone(UTC)
    except (OverflowError, ValueError):  # 9999-12-31T23:00-05:00 is past year 9999 in UTC
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        notes.append(f"{name}: {moment.isoformat()} is not a plausible time; ignored")
        return None
    return utc


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."
