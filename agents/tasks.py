"""django-q2 entry points of the agents app: thin adapters over plain functions."""

from __future__ import annotations

from dataclasses import asdict

from agents.queue import queue_sweep


def sweep_queue() -> dict[str, int]:
    """Every minute (schedule `agents-queue-sweep`, declared in a migration)."""
    return asdict(queue_sweep())
