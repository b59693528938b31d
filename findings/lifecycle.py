"""What a scan may do to a finding on its own (the new / seen / fixed / reopened rules).

- not known yet           → created, status `new`;
- open (new, confirmed, in progress), seen again → last seen and occurrence count move on,
  details (severity, description, CVSS, location…) are refreshed, the status stays;
- resolved, seen again    → reopened as `new`, `reopen_count` + 1 (a regression);
- false positive, accepted, duplicate → left alone: a person decided, no scan overrides it;
- open, and a *full* run of the same tool on the same asset no longer reports it
  → resolved, with `resolved_at`.

Writers of an asset's findings hold the asset's row lock (the ingest pipeline takes it
first), so a triage decision and an ingest never interleave on one asset.
"""

from __future__ import annotations

from enum import StrEnum

from findings.models import OPEN_STATUSES, TRIAGED_STATUSES, FindingStatus


class Sighting(StrEnum):
    REFRESH = "refresh"
    REOPEN = "reopen"
    SKIP = "skip"


def on_sighting(status: str) -> Sighting:
    """What seeing a known finding again does to it."""
    if status in OPEN_STATUSES:
        return Sighting.REFRESH
    if status == FindingStatus.RESOLVED:
        return Sighting.REOPEN
    if status in TRIAGED_STATUSES:
        return Sighting.SKIP
    raise ValueError(f"unknown finding status {status!r}")
