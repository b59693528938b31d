"""`make prod-smoke`: the production topology on this machine and one scan through it.

    python -m tests.ops.prod_smoke

PostgreSQL (a throw-away database) and Redis on loopback, `collectstatic` served by
whitenoise with DEBUG off, gunicorn with four gthread workers, two django-q2 clusters,
then: health and readiness; a tenant, an agent and a user token from the operator
commands; the sample app registered as an asset and a bandit scan of it created and
triggered over the HTTP API; the real `rediverio-agent worker` runs it; its session
completes with findings, which the API reports and the database holds; a report over the
async threshold is stored by a cluster through Redis; a hashed static file from the
login page is served; /metrics adds up the findings counted by web workers and clusters;
the clusters log JSON. Everything is torn down on the way out. Exit status 0 only when every check
passed.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tests.ops.topology import ROOT, SCRIPTS, Topology, TopologyError, say, sigterm_raises

SAMPLE_APP = ROOT / "samples" / "vulnerable-app"
TENANT = "smoke"
USER = "smoke-operator"
SCAN_TIMEOUT = 120
# Reports above this are stored by a cluster's background job (production: 20 MB); the
# smoke's large report (300 findings, about 100 KB) crosses it, the bandit report not.
ASYNC_THRESHOLD_BYTES = 64 * 1024
LARGE_REPORT_FINDINGS = 300
READY_TIMEOUT = 150  # a cluster's scheduler passes every 30 s; the tick is per minute
HASHED_STATIC = re.compile(r'(?:href|src)="(/static/[^"]+\.[0-9a-f]{12}\.(?:css|js))"')


class CheckFailed(AssertionError):
    pass


class Checks:
    """Named checks, timed and printed as they pass; the first failure stops the run
    (each later step needs the earlier ones)."""

    def __init__(self) -> None:
        self.passed: list[tuple[str, float]] = []
        self.started = time.perf_counter()

    def ok(self, name: str, detail: str = "") -> None:
        elapsed = time.perf_counter() - self.started
        self.passed.append((name, elapsed))
        say(f"ok   {name}" + (f" ({detail})" if detail else ""))

    @staticmethod
    def expect(condition: object, message: str) -> None:
        if not condition:
            raise CheckFailed(message)


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1].strip()


def _multipart(fields: dict[str, str], file_name: str, file_bytes: bytes) -> tuple[bytes, str]:
    boundary = f"----rediverio-smoke-{secrets.token_hex(8)}"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    parts.append(
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="file"; filename="{file_name}"\r\nContent-Type: application/json\r\n\r\n'
    )
    body = "".join(parts).encode() + file_bytes + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def check_health(topology: Topology, checks: Checks) -> None:
    health = topology.http("GET", "/healthz")
    checks.expect(health.status == 200, f"/healthz answered {health.status}")
    checks.expect(health.json() == {"status": "ok"}, f"/healthz said {health.text}")
    checks.expect("x-request-id" in health.headers, "/healthz carries no X-Request-ID")
    checks.ok("/healthz 200, with a request id")

    last: list = []

    def ready() -> bool:
        reply = topology.http("GET", "/readyz")
        last[:] = [reply.status, reply.text]
        return reply.status == 200

    try:
        topology.wait_until(ready, timeout=READY_TIMEOUT, what="/readyz", interval=1)
    except TopologyError as exc:
        raise CheckFailed(f"/readyz never 200: {last}") from exc
    broker = json.loads(last[1])["checks"]["broker"]
    checks.expect(broker == "ok (redis)", f"/readyz broker: {broker}")
    checks.ok("/readyz 200", f"broker {broker}")


def provision(topology: Topology, checks: Checks) -> tuple[str, str]:
    """The operator's commands; returns (agent key, user token)."""
    topology.manage("createtenant", TENANT, "--name", "Smoke test", "--plan", "business")
    # No operator command grants a membership (people join through the admin); the
    # token below needs one.
    topology.run_module(
        "tests.ops.provision", "member", "--tenant", TENANT, "--user", USER, "--role", "admin"
    )
    agent_key = _last_line(
        topology.manage(
            "createagent",
            "--tenant",
            TENANT,
            "--name",
            "smoke-agent",
            "--capabilities",
            "sast",
            "--tools",
            "bandit",
            "--max-jobs",
            "2",
        )
    )
    checks.expect(agent_key.startswith("rdv_"), f"createagent printed {agent_key!r}")
    token = _last_line(
        topology.manage("createapitoken", "--tenant", TENANT, "--user", USER, "--name", "smoke")
    )
    checks.expect(token.startswith("rdu_"), f"createapitoken printed {token!r}")
    checks.ok("createtenant, createagent, createapitoken")
    return agent_key, token


def register_asset(topology: Topology, checks: Checks, token: str, app: Path) -> str:
    """The API has no asset endpoint: an asset comes with a report. An empty report
    uploaded for the app's path registers it; its session names the asset."""
    report = {
        "version": "1.0",
        "metadata": {
            "timestamp": datetime.now(UTC).isoformat(),
            "coverage_type": "partial",
        },
        "tool": {"name": "inventory"},
        "findings": [],
    }
    body, content_type = _multipart(
        {"format": "ris", "asset": str(app), "asset_type": "repository"},
        "inventory.json",
        json.dumps(report).encode(),
    )
    upload = topology.http(
        "POST",
        "/api/v1/ingest/upload",
        body=body,
        headers={"Content-Type": content_type},
        token=token,
    )
    checks.expect(upload.status == 201, f"upload answered {upload.status}: {upload.text}")
    session = topology.http("GET", f"/api/v1/scan-sessions/{upload.json()['scan_id']}", token=token)
    checks.expect(session.status == 200, f"session answered {session.status}")
    asset_id = session.json()["asset"]
    checks.expect(asset_id, f"the upload's session names no asset: {session.text}")
    checks.ok("asset registered over HTTP (POST /api/v1/ingest/upload)", str(app))
    return asset_id


def create_and_trigger_scan(
    topology: Topology, checks: Checks, token: str, asset_id: str
) -> tuple[str, str]:
    created = topology.http(
        "POST",
        "/api/v1/scans",
        json_body={
            "name": "Sample app SAST",
            "scan_type": "single",
            "scanner_name": "bandit",
            "targets": [asset_id],
            "schedule_type": "manual",
        },
        token=token,
    )
    checks.expect(created.status == 201, f"POST /api/v1/scans: {created.status} {created.text}")
    scan_id = created.json()["id"]
    triggered = topology.http("POST", f"/api/v1/scans/{scan_id}/trigger", token=token)
    checks.expect(triggered.status == 201, f"trigger: {triggered.status} {triggered.text}")
    sessions = triggered.json()["sessions"]
    checks.expect(len(sessions) == 1, f"one session expected: {sessions}")
    checks.ok("scan created and triggered over HTTP", f"session {sessions[0]['id']}")
    return scan_id, sessions[0]["id"]


def run_agent_until_done(
    topology: Topology, checks: Checks, agent_key: str, token: str, session_id: str
) -> dict:
    agent = topology.spawn(
        "agent",
        [
            str(SCRIPTS / "rediverio-agent"),
            "worker",
            "--api-url",
            topology.base_url,
            "--api-key",
            agent_key,
            "--work-dir",
            str(topology.directory / "agent"),
            "--poll-interval",
            "0.5",
            "--heartbeat-interval",
            "1",
        ],
    )
    last: dict = {}

    def finished() -> bool:
        if not agent.alive:
            raise CheckFailed(f"the agent exited ({agent.popen.returncode})")
        reply = topology.http("GET", f"/api/v1/scan-sessions/{session_id}", token=token)
        last.update(reply.json())
        return last.get("status") in ("completed", "failed", "canceled")

    try:
        topology.wait_until(finished, timeout=SCAN_TIMEOUT, what="the scan session", interval=0.5)
    except TopologyError as exc:
        raise CheckFailed(f"the session did not finish: {last}") from exc
    checks.expect(last["status"] == "completed", f"session {last['status']}: {last}")
    checks.expect(last["findings_total"] > 0, f"bandit found nothing: {last}")
    checks.expect(last["findings_new"] == last["findings_total"], f"first run: {last}")
    checks.ok(
        "the agent ran bandit; the session completed",
        f"{last['findings_total']} findings, {last['findings_by_severity']}",
    )
    return last


def check_findings_listed(
    topology: Topology, checks: Checks, token: str, scan_id: str, session: dict
) -> None:
    runs = topology.http("GET", f"/api/v1/scans/{scan_id}/runs", token=token)
    checks.expect(runs.status == 200, f"runs: {runs.status}")
    listed = {run["id"]: run for run in runs.json()}
    checks.expect(session["id"] in listed, "the run is not listed")
    checks.expect(
        listed[session["id"]]["findings_total"] == session["findings_total"],
        f"runs list disagrees: {listed[session['id']]}",
    )
    stats = topology.http("GET", "/api/v1/scans/stats", token=token).json()
    checks.expect(stats["runs_completed"] >= 1, f"stats: {stats}")
    (stored,) = topology.sql(
        "SELECT count(*) FROM findings WHERE asset_id = %s AND tool_name = 'bandit'",
        (uuid.UUID(session["asset"]),),
    )[0]
    checks.expect(
        stored == session["findings_total"],
        f"the database holds {stored} bandit findings, the session says "
        f"{session['findings_total']}",
    )
    agents = topology.http("GET", "/api/v1/agents", token=token).json()
    agent = next(a for a in agents["results"] if a["name"] == "smoke-agent")
    checks.expect(agent["health"] == "online", f"agent: {agent}")
    checks.ok(
        "findings listed by the API and stored",
        f"{stored} in PostgreSQL; agent {agent['health']}",
    )


def check_background_ingest(topology: Topology, checks: Checks, agent_key: str) -> None:
    """A report over the async threshold, as an agent sends it: 202, then a cluster
    stores it (through Redis) while the agent polls its status."""
    report = {
        "version": "1.0",
        "metadata": {"timestamp": datetime.now(UTC).isoformat(), "coverage_type": "full"},
        "tool": {"name": "smoke-large", "version": "1"},
        "assets": [{"id": "a", "type": "repository", "value": "github.com/smoke/large"}],
        "findings": [
            {
                "type": "vulnerability",
                "title": f"Large report finding {i}",
                "description": "A finding of the smoke's large report. " * 4,
                "severity": "medium",
                "rule_id": f"smoke.rule-{i}",
                "asset_ref": "a",
                "location": {"path": f"src/module_{i}.py", "start_line": i + 1},
            }
            for i in range(LARGE_REPORT_FINDINGS)
        ],
    }
    sent = topology.http("POST", "/api/v1/agent/ingest/ris", json_body=report, token=agent_key)
    checks.expect(sent.status == 202, f"large report: {sent.status} {sent.text[:300]}")
    status_url = sent.json()["status_url"]
    last: list = []

    def stored() -> bool:
        reply = topology.http("GET", status_url, token=agent_key)
        last[:] = [reply.status, reply.text[:300]]
        return reply.status == 201

    try:
        topology.wait_until(stored, timeout=60, what="the background ingest", interval=0.5)
    except TopologyError as exc:
        raise CheckFailed(f"the background ingest did not finish: {last}") from exc
    created = json.loads(last[1])["findings_created"]
    checks.expect(created == LARGE_REPORT_FINDINGS, f"background ingest stored {created}")
    checks.ok("large report stored by a cluster (202, then 201)", f"{created} findings")


def check_static(topology: Topology, checks: Checks) -> None:
    login = topology.http("GET", "/login/")
    checks.expect(login.status == 200, f"/login/ answered {login.status}")
    hashed = HASHED_STATIC.findall(login.text)
    checks.expect(hashed, "the login page references no hashed static file")
    path = hashed[0]
    served = topology.http("GET", path, headers={"Accept-Encoding": "gzip"})
    checks.expect(served.status == 200, f"{path} answered {served.status}")
    checks.expect(
        "immutable" in served.headers.get("cache-control", ""),
        f"{path} is not cached forever: {served.headers.get('cache-control')}",
    )
    checks.expect(
        served.headers.get("content-encoding") == "gzip", f"{path} is not served compressed"
    )
    checks.ok("hashed static file served by whitenoise", f"{path}, gzip, immutable")


def check_metrics(topology: Topology, checks: Checks, expected_created: int) -> None:
    anonymous = topology.http("GET", "/metrics")
    checks.expect(
        anonymous.status == 401, f"/metrics without the token answered {anonymous.status}"
    )
    metrics = topology.http("GET", "/metrics", token=topology.metrics_token)
    checks.expect(metrics.status == 200, f"/metrics answered {metrics.status}")
    created = re.search(r'^findings_ingested_total\{outcome="created"\} (\S+)$', metrics.text, re.M)
    # Counted in a web worker (the bandit report) and in a cluster (the large one): the
    # sum shows every process's counters add up (PROMETHEUS_MULTIPROC_DIR).
    checks.expect(
        created and float(created.group(1)) == expected_created,
        f"findings_ingested_total created: {created and created.group(1)}, "
        f"expected {expected_created}",
    )
    for gauge in ("command_queue_depth", 'agents_by_health{health="online"}'):
        checks.expect(gauge in metrics.text, f"/metrics lacks {gauge}")
    checks.ok(
        "/metrics only with METRICS_TOKEN", f"findings_ingested_total created {created.group(1)}"
    )


def check_json_logs(topology: Topology, checks: Checks) -> None:
    for cluster in topology.clusters:
        lines = [line for line in cluster.log().splitlines() if line.strip()]
        checks.expect(lines, f"{cluster.name} logged nothing")
        for line in lines:
            try:
                json.loads(line)
            except ValueError as exc:
                raise CheckFailed(f"{cluster.name} logged a non-JSON line: {line[:200]}") from exc
    checks.ok("clusters log one JSON object per line")


def smoke(topology: Topology, checks: Checks) -> None:
    topology.start_web()
    topology.start_clusters(2)
    checks.ok(
        "topology up",
        f"gunicorn on {topology.base_url}, 2 clusters, database {topology.database}",
    )
    check_health(topology, checks)
    agent_key, token = provision(topology, checks)
    app = topology.directory / "app"
    shutil.copytree(SAMPLE_APP, app)
    asset_id = register_asset(topology, checks, token, app)
    scan_id, session_id = create_and_trigger_scan(topology, checks, token, asset_id)
    session = run_agent_until_done(topology, checks, agent_key, token, session_id)
    check_findings_listed(topology, checks, token, scan_id, session)
    check_background_ingest(topology, checks, agent_key)
    check_static(topology, checks)
    check_metrics(topology, checks, session["findings_total"] + LARGE_REPORT_FINDINGS)
    check_json_logs(topology, checks)


def main() -> int:
    started = time.perf_counter()
    checks = Checks()
    try:
        with (
            sigterm_raises(),
            Topology(
                "smoke", extra_env={"INGEST_ASYNC_THRESHOLD_BYTES": str(ASYNC_THRESHOLD_BYTES)}
            ) as topology,
        ):
            say(
                f"set up in {sum(topology.timings.values()):.1f} s "
                f"({', '.join(f'{k} {v} s' for k, v in topology.timings.items())})"
            )
            smoke(topology, checks)
    except (CheckFailed, TopologyError) as exc:
        say(f"FAILED after {len(checks.passed)} passed check(s): {exc}")
        return 1
    say(
        f"prod-smoke passed: {len(checks.passed)} checks in "
        f"{time.perf_counter() - started:.1f} s (teardown included)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
