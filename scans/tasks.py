"""django-q2 entry points of the scans app."""

from __future__ import annotations

from dataclasses import asdict

from scans.scheduler import tick


def scheduler_tick() -> dict[str, int]:
    """Every minute (schedule `scans-tick`, declared in a migration)."""
    return asdict(tick())
