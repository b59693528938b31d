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


# What a person may do to a finding (triage). Closed decisions (false positive, accepted,
# duplicate) only reopen to `confirmed`: a reopened decision is a finding someone already
# looked at, never `new` again. Scans follow `on_sighting` above, not this table.
TRIAGE_TRANSITIONS: dict[str, tuple[FindingStatus, ...]] = {
    FindingStatus.NEW: (
        FindingStatus.CONFIRMED,
        FindingStatus.IN_PROGRESS,
        FindingStatus.FALSE_POSITIVE,
        FindingStatus.ACCEPTED,
        FindingStatus.DUPLICATE,
        FindingStatus.RESOLVED,
    ),
    FindingStatus.CONFIRMED: (
        FindingStatus.IN_PROGRESS,
        FindingStatus.RESOLVED,
        FindingStatus.FALSE_POSITIVE,
        FindingStatus.ACCEPTED,
        FindingStatus.DUPLICATE,
    ),
    FindingStatus.IN_PROGRESS: (FindingStatus.RESOLVED, FindingStatus.CONFIRMED),
    FindingStatus.RESOLVED: (FindingStatus.CONFIRMED, FindingStatus.NEW),
    FindingStatus.FALSE_POSITIVE: (FindingStatus.CONFIRMED,),
    FindingStatus.ACCEPTED: (FindingStatus.CONFIRMED,),
    FindingStatus.DUPLICATE: (FindingStatus.CONFIRMED,),
}


def triage_targets(status: str) -> tuple[FindingStatus, ...]:
    """The statuses a person may move a finding in `status` to."""
    return TRIAGE_TRANSITIONS.get(status, ())


def triage_refusal(current: str, target: str) -> str | None:
    """Why a person may not move a finding from `current` to `target`; None when allowed."""
    if target not in FindingStatus.values:
        return f"“{target}” is not a finding status."
    to_label = FindingStatus(target).label.lower()
    if current == target:
        return f"it is already {to_label}."
    if target in triage_targets(current):
        return None
    from_label = FindingStatus(current).label.lower()
    allowed = ", ".join(s.label.lower() for s in triage_targets(current)) or "nothing"
    return f"{from_label} → {to_label} is not allowed (from {from_label}: {allowed})."
