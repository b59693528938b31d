"""Ingest throughput on PostgreSQL: a first ingest and an unchanged re-ingest of
synthetic reports of 1,000, 10,000 and 100,000 findings over 50 assets.

Server-side time: from the decoded request body to the committed transaction (parse,
validate, session, pipeline), as `ingest.services.ingest_submit` runs it for the ingest
endpoint; HTTP framing is left out. Each size runs in its own process, so peak memory
(RSS, and the Python heap traced in a separate pass) belongs to that ingest alone.

Run alone: `.venv/bin/python bench/run.py ingest`.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import tracemalloc

from bench.common import migrated_env, run_child

SIZES = (1_000, 10_000, 100_000)
ASSETS = 50
GOALS = {
    "goal_10k_first_ingest_seconds": 1.0,
    "goal_10k_unchanged_reingest_seconds": 0.5,
    "goal_10k_peak_mb": 150,
    "goal_100k_peak_mb": 500,
}


def synthetic_report(n: int, *, seed: str) -> bytes:
    """A flat report like an SDK sends: 50 repositories, n SAST findings spread over
    them, realistic field sizes."""
    targets = [
        {
            "type": "repository",
            "identifier": f"github.com/bench-{seed}/service-{a}",
            "name": f"service-{a}",
        }
        for a in range(ASSETS)
    ]
    severities = ("critical", "high", "medium", "low", "info")
    findings = [
        {
            "rule_id": f"python.lang.security.audit.rule-{i % 97}",
            "severity": severities[i % 5],
            "message": f"Possible injection through parameter number {i} reaching a sink",
            "description": "User input flows into a dangerous call without sanitisation. " * 2,
            "file_path": f"src/pkg_{i % 40}/module_{i % 311}.py",
            "start_line": i % 3000 + 1,
            "end_line": i % 3000 + 3,
            "snippet": 'cursor.execute(f"SELECT * FROM users WHERE id = {user_id}")',
            "target_index": i % ASSETS,
            "cwe_ids": ["CWE-89"],
        }
        for i in range(n)
    ]
    return json.dumps(
        {
            "version": "1.0",
            "metadata": {
                "tool_name": "semgrep",
                "tool_version": "1.185.0",
                "coverage_type": "full",
            },
            "targets": targets,
            "findings": findings,
        }
    ).encode()


def worker(n: int, mode: str) -> dict:
    """In a child process: one size, timed (mode=time) or memory-traced (mode=memory)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rediverio.settings")
    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ingest.services import ingest_submit
    from rediverio.services import tenant_create

    tenant = tenant_create(
        slug=f"bench-{mode}-{n}-{time.time_ns()}", name="bench", plan="enterprise"
    )
    raw = synthetic_report(n, seed=tenant.slug)
    out: dict = {"report_mb": round(len(raw) / 1e6, 1)}
    rss_before = _rss_mb()
    for phase in ("first", "again"):
        if mode == "memory":
            tracemalloc.start()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            ingest = ingest_submit(tenant=tenant, raw=raw, format="flat", options={"phase": phase})
            seconds = time.perf_counter() - started
        assert ingest.status == "completed" and ingest.result is not None, ingest.error
        key = "findings_created" if phase == "first" else "findings_updated"
        assert ingest.result[key] == n, ingest.result
        if mode == "memory":
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out[f"{phase}_python_heap_peak_mb"] = round(peak / 1e6, 1)
        else:
            out[f"{phase}_seconds"] = round(seconds, 3)
            out[f"{phase}_findings_per_second"] = round(n / seconds)
            out[f"{phase}_queries"] = len(queries)
    if mode == "time":
        out["process_peak_rss_mb"] = round(_rss_mb(), 1)
        out["rss_growth_mb"] = round(_rss_mb() - rss_before, 1)
    return out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run() -> dict:
    env = migrated_env(
        "rediverio_bench_ingest",
        INGEST_REPLAY_WINDOW_SECONDS="0",
        INGEST_ASYNC_THRESHOLD_BYTES=str(1 << 30),
        INGEST_MAX_BYTES=str(1 << 30),
    )
    results: dict = {"database": "postgresql", "assets": ASSETS, **GOALS}
    for n in SIZES:
        timed = run_child("bench.bench_ingest", env, "--worker", str(n), "time")
        traced = run_child("bench.bench_ingest", env, "--worker", str(n), "memory")
        results[f"{n}_findings"] = {**timed, **traced}
    results["limits"] = (
        "One process on 2 cores, PostgreSQL on the same machine. Time splits between JSON "
        "decoding and validation in Python, building rows, the UNNEST upsert and the "
        "sightings insert; queries per ingest grow only with the number of 5,000-finding "
        "batches."
    )
    return results


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(worker(int(sys.argv[2]), sys.argv[3])))
    else:
        print(json.dumps(run(), indent=2))
