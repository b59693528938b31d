"""The program as CI and operators run it: a real subprocess, no Django."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.agents.runtime.fakes import SAMPLE_APP, FakeServer, alive, fake_scanner, free_port
from tests.shared_data import DATA

ROOT = Path(__file__).resolve().parents[3]
INGEST = "/api/v1/agent/ingest/ris"
# The three HIGH flaws of the sample, and their fixes.
FIXES = [
    (
        'subprocess.check_output("ping -c 1 " + host, shell=True)',
        'subprocess.check_output(["ping", "-c", "1", host])',
    ),
    (
        "requests.get(UPSTREAM_URL + path, verify=False, timeout=10)",
        "requests.get(UPSTREAM_URL + path, timeout=10)",
    ),
    ("hashlib.md5(password.encode())", "hashlib.sha256(password.encode())"),
]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "AGENT_", "DJANGO"))}
    return {**env, **extra}


def agent(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "agents.runtime.cli", *args],
        cwd=ROOT,
        env=env or environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def fixed_sample(tmp_path: Path) -> Path:
    copy = tmp_path / "fixed-app"
    shutil.copytree(SAMPLE_APP, copy)
    app = copy / "app.py"
    source = app.read_text()
    for flawed, fixed in FIXES:
        assert flawed in source
        source = source.replace(flawed, fixed)
    app.write_text(source)
    return copy


def test_the_program_never_imports_django(tmp_path):
    script = f"""
import json, sys
from agents.runtime import cli, commands, worker  # every module the program loads
code = cli.main(["run", "--tool", "bandit", "--no-upload", "--work-dir", {str(tmp_path)!r},
                 {str(SAMPLE_APP)!r}])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("django", "rest_framework"))
print(json.dumps({{"code": code, "loaded": loaded}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment(), capture_output=True, text=True
    )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"code": 1, "loaded": []}


def test_run_fails_the_pipeline_on_the_sample_and_passes_once_its_high_flaws_are_fixed(tmp_path):
    with FakeServer() as server:
        env = environment(API_URL=server.url, API_KEY="rdv_test_key", AGENT_WORK_DIR=str(tmp_path))
        flawed = agent(
            "run", "--tool", "bandit", "--asset", "github.com/acme/sample", str(SAMPLE_APP), env=env
        )
        fixed = agent(
            "run",
            "--tool",
            "bandit",
            "--asset",
            "github.com/acme/sample",
            str(fixed_sample(tmp_path)),
            env=env,
        )
    assert flawed.returncode == 1, flawed.stderr
    assert "quality gate: FAILED: 3 finding(s) at or above high" in flawed.stdout
    assert "bandit  ok      0         3" in flawed.stdout
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "quality gate: passed" in fixed.stdout
    first, second = server.calls(INGEST)
    assert first.body["assets"][0]["value"] == "github.com/acme/sample"
    highs = [[f for f in c.body["findings"] if f["severity"] == "high"] for c in (first, second)]
    assert [len(h) for h in highs] == [3, 0]


def test_run_with_a_lower_threshold_still_fails_the_fixed_sample(tmp_path):
    done = agent(
        "run",
        "--tool",
        "bandit",
        "--fail-on",
        "medium",
        "--no-upload",
        "--work-dir",
        str(tmp_path),
        str(fixed_sample(tmp_path)),
    )
    assert done.returncode == 1


def test_run_exits_2_when_a_tool_fails_even_if_another_found_flaws(tmp_path):
    done = agent(
        "run",
        "--tool",
        "bandit",
        "--tool",
        "gitleaks",
        "--tool-path",
        "gitleaks=/opt/none/gitleaks",
        "--no-upload",
        "--work-dir",
        str(tmp_path),
        str(SAMPLE_APP),
    )
    assert done.returncode == 2
    assert "gitleaks: FAILED: gitleaks is not installed on this agent" in done.stdout


def test_run_without_a_server_or_no_upload_is_a_usage_error(tmp_path):
    done = agent("run", "--tool", "bandit", str(SAMPLE_APP))
    assert done.returncode == 2
    assert "set API_URL and API_KEY, or pass --no-upload" in done.stderr


def test_run_keeps_the_report_when_the_server_is_down_and_flush_sends_it_later(tmp_path):
    port = free_port()
    env = environment(
        API_URL=f"http://127.0.0.1:{port}",
        API_KEY="k",
        AGENT_WORK_DIR=str(tmp_path),
        AGENT_RETRIES="0",  # no backoff to sit through
    )
    down = agent("run", "--tool", "bandit", str(SAMPLE_APP), env=env)
    assert down.returncode == 2
    assert "bandit: spooled in" in down.stdout
    with FakeServer(port) as server:
        flushed = agent("flush", env=env)
    assert flushed.returncode == 0, flushed.stderr
    assert "sent 1" in flushed.stdout
    assert len(server.calls(INGEST)[0].body["findings"]) == 13


def test_upload_detects_the_format_and_names_the_asset(tmp_path):
    with FakeServer() as server:
        env = environment(API_URL=server.url, API_KEY="k", AGENT_WORK_DIR=str(tmp_path))
        done = agent(
            "upload",
            "--asset",
            "github.com/acme/api",
            str(DATA / "semgrep/many_vulns.json"),
            env=env,
        )
    assert done.returncode == 0, done.stderr
    assert "semgrep: 48 finding(s): delivered" in done.stdout
    (ingest,) = server.calls(INGEST)
    assert ingest.body["assets"][0]["value"] == "github.com/acme/api"
    assert ingest.headers["content-encoding"] == "gzip"


def test_upload_of_an_unknown_format_is_refused_clearly(tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": "world"}')
    done = agent("upload", str(junk), env=environment(API_URL="http://127.0.0.1:9", API_KEY="k"))
    assert done.returncode == 2
    assert "unrecognised report format" in done.stderr


def test_tools_lists_bandit_with_its_version():
    done = agent("tools")
    assert done.returncode == 0
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("bandit ")]
    assert "sast" in line and "1." in line
    listed = json.loads(agent("tools", "--json").stdout)
    assert "bandit" in {t["name"] for t in listed}


def start_worker(server: FakeServer, tmp_path: Path, *, sleep: float, grace: float):
    script = fake_scanner(tmp_path / "bin")
    command = f"{script} {{output}} {{target}} --sleep {sleep} --pidfile {{work_dir}}/pids"
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agents.runtime.cli",
            "worker",
            "--poll-interval",
            "0.1",
            "--heartbeat-interval",
            "0.5",
            "--shutdown-grace",
            str(grace),
            "--sarif-tool",
            f"fakescan={command}",
        ],
        cwd=ROOT,
        env=environment(API_URL=server.url, API_KEY="k", AGENT_WORK_DIR=str(tmp_path / "work")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def scan_of_the_sample(command_id: str) -> dict:
    return {
        "id": command_id,
        "type": "scan",
        "payload": {"scanner": "fakescan", "target": str(SAMPLE_APP), "timeout_seconds": 900},
    }


def outcome_of(server: FakeServer, command_id: str) -> list[str]:
    calls = server.calls(f"/api/v1/agent/commands/{command_id}/")
    return [c.path.rsplit("/", 1)[1] for c in calls if c.path.endswith(("/complete", "/fail"))]


def test_sigterm_lets_a_running_job_finish_within_the_grace_period(tmp_path):
    with FakeServer() as server:
        server.queue_commands(scan_of_the_sample("c1"))
        worker = start_worker(server, tmp_path, sleep=2, grace=60)
        try:
            server.wait_for(lambda: server.calls("/api/v1/agent/commands/c1/start"))
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=60)
        finally:
            worker.kill()
    assert worker.returncode == 0, output
    assert outcome_of(server, "c1") == ["complete"]
    assert len(server.calls(INGEST)) == 1
    statuses = [c.body["status"] for c in server.calls("/api/v1/agent/heartbeat")]
    assert statuses[-2:] == ["stopping", "stopped"]


def test_sigterm_fails_a_job_that_outlives_the_grace_period_and_kills_its_tool(tmp_path):
    with FakeServer() as server:
        server.queue_commands(scan_of_the_sample("c1"))
        worker = start_worker(server, tmp_path, sleep=600, grace=1)
        try:
            pidfile = server.wait_for(lambda: next((tmp_path / "work").rglob("pids"), None))
            server.wait_for(lambda: pidfile.read_text().strip())
            pids = [int(p) for p in pidfile.read_text().split()]
            started = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=60)
        finally:
            worker.kill()
    assert worker.returncode == 0, output
    assert time.monotonic() - started < 30
    assert outcome_of(server, "c1") == ["fail"]
    (fail,) = server.calls("/api/v1/agent/commands/c1/fail")
    assert "the agent was stopped before the scan finished" in fail.body["error_message"]
    assert not any(alive(p) for p in pids)
    assert not server.calls(INGEST)
