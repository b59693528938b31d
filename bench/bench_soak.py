"""The soak's longer mode: fifty agents polling and ingesting against the production
topology (gunicorn, two django-q2 clusters, PostgreSQL, Redis) for four minutes, one
cluster SIGKILLed and restarted midway (`tests/ops/soak.py`).

Returns what the soak measured — commands and findings per second, request latencies,
command created-to-completed times — and its verdicts: no command lost or run twice, no
finding lost. Needs PostgreSQL and Redis on this machine (see tests/ops/topology.py).
"""

from __future__ import annotations

import os

from tests.ops.soak import SoakSettings, soak
from tests.ops.topology import redis_unreachable_reason

BENCH_SETTINGS = SoakSettings(
    duration=float(os.environ.get("BENCH_SOAK_SECONDS", "240")),
    agents=50,
    kill_at=0.4,
    restart_after=15.0,
)


def run() -> dict:
    if reason := redis_unreachable_reason():
        return {"skipped": reason}
    result = soak(BENCH_SETTINGS)
    return {
        "passed": result["passed"],
        "verdicts": result["verdicts"],
        "counts": result["counts"],
        "throughput": result["throughput"],
        "events_seconds": result["events_seconds"],
        "timings_seconds": result["timings_seconds"],
        "settings": result["settings"],
        **({} if result["passed"] else {"problems": result["problems"]}),
    }
