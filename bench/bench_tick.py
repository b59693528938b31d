"""The scheduler tick on PostgreSQL: 10,000 due scans (each one target, one tool), and
a tick with nothing due. Reports seconds, queries and runs started.

Run alone: `.venv/bin/python bench/run.py tick`.
"""

from __future__ import annotations

import json
import os
import sys

from bench.common import migrated_env, run_child

DUE = 10_000
GOALS = {"goal_10k_due_seconds": 10.0}


def worker() -> dict:
    import time
    from datetime import UTC, datetime, timedelta

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rediverio.settings")
    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from findings.models import Asset
    from rediverio.services import tenant_create
    from scans.models import Scan
    from scans.scheduler import BATCH, tick

    tenant = tenant_create(slug=f"tick-{time.time_ns()}", name="tick", plan="enterprise")
    now = datetime.now(UTC)
    assets = Asset.objects.bulk_create(
        Asset(tenant=tenant, type="repository", identifier=f"github.com/bench/r{i}", name=f"r{i}")
        for i in range(DUE)
    )
    scans = Scan.objects.bulk_create(
        Scan(
            tenant=tenant,
            name=f"scan-{i}",
            scanner_name="semgrep",
            schedule_type="daily",
            schedule_time=(now - timedelta(minutes=1)).time(),
            next_run_at=now - timedelta(seconds=30),
        )
        for i in range(DUE)
    )
    Scan.targets.through.objects.bulk_create(
        Scan.targets.through(scan_id=s.pk, asset_id=a.pk)
        for s, a in zip(scans, assets, strict=True)
    )
    out: dict[str, float] = {"due_scans": DUE, "batch": BATCH}
    for label in ("due", "idle"):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = tick(now=now)
            seconds = time.perf_counter() - started
        out[f"{label}_seconds"] = round(seconds, 3)
        out[f"{label}_queries"] = len(queries)
        out[f"{label}_runs_started"] = result.started
    out["queries_per_batch"] = round(out["due_queries"] / max(1, DUE // BATCH), 1)
    return out


def run() -> dict:
    result = run_child("bench.bench_tick", migrated_env("rediverio_bench_tick"), "--worker")
    return {
        "database": "postgresql",
        **GOALS,
        **result,
        "limits": "One process on 2 cores with PostgreSQL beside it; each batch claims scans "
        "with SKIP LOCKED, computes next runs in Python and bulk-inserts sessions, commands "
        "and events.",
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        print(json.dumps(worker()))
    else:
        print(json.dumps(run(), indent=2))
