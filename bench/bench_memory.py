"""Peak memory of the web worker and of the background worker for the reports of the
penetration test (issue 13) and for a legitimate large one, on PostgreSQL, with the
product's default limits.

* chunk attack: 16 chunk requests of ~68 KB, each the gzip of 50 MB — the web worker's
  memory must stay flat (each chunk is cut off at its 10 MB limit while inflating);
  then 16 valid 10 MB chunks under 16 report ids — the agent's limits stop them.
* amplification: 19 KB of gzip holding 19 MB of empty finding objects, sent to the RIS
  endpoint (web worker), and 50 MB of them queued straight into the background job's
  table as if it had passed the web worker (background worker): under 100 MB above idle.
* a legitimate report: a 50 MB SARIF report (~80,000 results) through the SARIF
  endpoint (queued: web worker) and its background job (background worker): under
  500 MB above idle.

Each measurement runs in a process of its own: "above idle" is the process's peak
resident memory during the request or job (VmHWM, reset just before) minus its resident
memory then (after start-up and one warm-up request).

Run alone: `.venv/bin/python bench/run.py memory`.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.common import migrated_env, run_child

GOALS = {
    "goal_chunk_attack_growth_mb": 20,
    "goal_amplification_above_idle_mb": 100,
    "goal_legitimate_50mb_above_idle_mb": 500,
}
LEGIT_MB = 50


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


def _idle_mb() -> float:
    """The process's resident memory now, its high-water mark reset to it (Linux:
    `5` in clear_refs), so that the peak read after the request or job is theirs."""
    import gc

    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    return _status_mb("VmHWM")


def _empty_findings(megabytes: int) -> bytes:
    count = megabytes * 1_000_000 // 3
    return b'{"version":"1.0","findings":[' + b",".join([b"{}"] * count) + b"]}"


def _sarif(megabytes: int) -> bytes:
    """A semgrep-like SARIF report of about `megabytes` MB over one repository."""
    rules = [
        {
            "id": f"python.lang.security.audit.rule-{r}",
            "name": f"rule-{r}",
            "shortDescription": {"text": "Possible injection"},
            "properties": {"tags": ["CWE-89: SQL Injection", "security"]},
        }
        for r in range(97)
    ]
    results = []
    size, i = 0, 0
    while size < megabytes * 1_000_000:
        result = {
            "ruleId": f"python.lang.security.audit.rule-{i % 97}",
            "level": "warning",
            "message": {"text": f"Possible injection through parameter number {i} reaching a sink"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f"src/pkg_{i % 40}/module_{i % 311}.py"},
                        "region": {
                            "startLine": i % 3000 + 1,
                            "endLine": i % 3000 + 3,
                            "snippet": {
                                "text": 'cursor.execute(f"SELECT * FROM t WHERE id = {x}")'
                            },
                        },
                    }
                }
            ],
            "fingerprints": {"matchBasedId/v1": f"{i:064x}"},
        }
        size += len(json.dumps(result)) + 1
        results.append(result)
        i += 1
    run = {
        "tool": {"driver": {"name": "semgrep", "semanticVersion": "1.100.0", "rules": rules}},
        "versionControlProvenance": [{"repositoryUri": "https://github.com/bench/app"}],
        "results": results,
    }
    return json.dumps({"version": "2.1.0", "runs": [run]}).encode()


def _agent_client(slug: str):
    """A team, its agent and a client holding its key, warmed up by one heartbeat."""
    from django.test import Client

    from agents.services import agent_create
    from rediverio.services import tenant_create

    tenant = tenant_create(slug=f"{slug}-{time.time_ns()}", name=slug, plan="enterprise")
    _, key = agent_create(tenant=tenant, name="bench-agent")
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {key}")
    client.post("/api/v1/agent/heartbeat", b"{}", content_type="application/json")
    return tenant, client


def _setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rediverio.settings")
    django.setup()


def worker(case: str, folder: str) -> dict:
    _setup()
    files = Path(folder)
    if case == "chunk_attack":
        return _chunk_attack(files)
    if case == "amplification_web":
        return _post_report("/api/v1/agent/ingest/ris", (files / "amplification.gz").read_bytes())
    if case == "amplification_worker":
        return _background_job(files / "amplification_worker.json")
    if case == "legit_web":
        return _post_report("/api/v1/agent/ingest/sarif", (files / "legit.gz").read_bytes())
    if case == "legit_worker":
        return _background_job(files / "legit.json")
    raise SystemExit(f"unknown case {case}")


def _chunk_attack(files: Path) -> dict:
    from ingest.models import IngestChunk

    tenant, client = _agent_client("bench-chunks")
    bomb = (files / "chunk_bomb.b64").read_text()
    full = (files / "chunk_full.b64").read_text()
    idle = _idle_mb()
    after, codes = [], []
    for n in range(16):
        body = {
            "report_id": f"attack-{n}",
            "chunk_index": 0,
            "total_chunks": 2,
            "compression": "gzip",
            "data": bomb,
        }
        response = client.post("/api/v1/agent/ingest/chunk", body, content_type="application/json")
        codes.append(response.status_code)
        after.append(round(_peak_mb() - idle, 1))
    # Then chunks that are valid, 10 MB decoded each, under as many report ids.
    valid_codes = []
    for n in range(16):
        body = {
            "report_id": f"fill-{n}",
            "chunk_index": 0,
            "total_chunks": 2,
            "compression": "gzip",
            "data": full,
        }
        response = client.post("/api/v1/agent/ingest/chunk", body, content_type="application/json")
        valid_codes.append(response.status_code)
    stored = sum(IngestChunk.objects.for_tenant(tenant).values_list("size", flat=True))
    return {
        "request_kb": round(len(bomb) / 1024, 1),
        "statuses": sorted(set(codes)),
        "above_idle_after_each_mb": after,
        "growth_first_to_last_mb": round(after[-1] - after[0], 1),
        "valid_10mb_chunks_statuses": valid_codes,
        "chunks_stored_mb": round(stored / 2**20, 1),
    }


def _post_report(path: str, gz: bytes) -> dict:
    _, client = _agent_client("bench-report")
    idle = _idle_mb()
    started = time.perf_counter()
    response = client.post(path, gz, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
    if response["Content-Type"] != "application/json":
        raise RuntimeError(f"{path}: {response.status_code} {response.content[:2000]!r}")
    body = response.json()
    return {
        "request_kb": round(len(gz) / 1024, 1),
        "status": response.status_code,
        "answer": body.get("error", {}).get("code") or body.get("status"),
        "seconds": round(time.perf_counter() - started, 2),
        "above_idle_mb": round(_peak_mb() - idle, 1),
    }


def _background_job(report_path: Path) -> dict:
    """The background worker's side: the report is queued as the web worker queues it
    (compressed in the ingest's row), then the job runs it."""
    import zlib

    from agents.models import Agent
    from ingest.models import Ingest
    from ingest.tasks import process_ingest

    tenant, _ = _agent_client("bench-job")
    agent = Agent.objects.for_tenant(tenant).get()
    raw = report_path.read_bytes()
    ingest = Ingest.objects.create(
        tenant=tenant,
        agent=agent,
        format="auto",
        digest="0" * 64,
        size_bytes=len(raw),
        payload=zlib.compress(raw, 1),
    )
    del raw
    idle = _idle_mb()
    started = time.perf_counter()
    outcome = process_ingest(str(ingest.pk))
    ingest.refresh_from_db()
    return {
        "status": outcome,
        "answer": (ingest.error or {}).get("code") or (ingest.result or {}).get("findings_created"),
        "seconds": round(time.perf_counter() - started, 2),
        "above_idle_mb": round(_peak_mb() - idle, 1),
    }


def run() -> dict:
    env = migrated_env("rediverio_bench_memory", SECURE_TLS="false")
    results: dict = {"database": "postgresql", **GOALS}
    with tempfile.TemporaryDirectory(prefix="rediverio-bench-memory-") as folder:
        files = Path(folder)
        bomb, full = gzip.compress(b"\0" * (50 << 20), 9), gzip.compress(b"x" * (10 << 20), 9)
        (files / "chunk_bomb.b64").write_bytes(base64.b64encode(bomb))
        (files / "chunk_full.b64").write_bytes(base64.b64encode(full))
        amplification = _empty_findings(19)
        (files / "amplification.gz").write_bytes(gzip.compress(amplification, 9))
        (files / "amplification_worker.json").write_bytes(_empty_findings(50))
        legit = _sarif(LEGIT_MB)
        (files / "legit.json").write_bytes(legit)
        (files / "legit.gz").write_bytes(gzip.compress(legit, 6))
        results["legitimate_report_mb"] = round(len(legit) / 1e6, 1)
        del amplification, legit
        for case in (
            "chunk_attack",
            "amplification_web",
            "amplification_worker",
            "legit_web",
            "legit_worker",
        ):
            results[case] = run_child("bench.bench_memory", env, "--worker", case, folder)
    results["limits"] = (
        "Peak resident memory of one process during the request or job above its resident "
        "memory just before; Python and Django themselves take about 100 MB before that."
    )
    return results


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3])))
    else:
        print(json.dumps(run(), indent=2))
