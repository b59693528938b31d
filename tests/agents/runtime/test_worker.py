from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from agents.runtime.adapters import SarifTool
from agents.runtime.config import AgentConfig
from agents.runtime.worker import Worker
from tests.agents.runtime.fakes import SAMPLE_APP, FakeServer, alive, fake_scanner
from tests.shared_data import DATA

COMMANDS = "/api/v1/agent/commands"
INGEST = "/api/v1/agent/ingest/ris"


def settings_for(server: FakeServer, tmp_path: Path, **changes) -> AgentConfig:
    script = fake_scanner(tmp_path / "bin")
    slow = SarifTool.from_config(
        "slowscan",
        {
            "command": [
                str(script),
                "{output}",
                "{target}",
                "--sleep",
                "600",
                "--pidfile",
                "{work_dir}/pids",
            ]
        },
    )
    quick = SarifTool.from_config(
        "quickscan", {"command": [str(script), "{output}", "{target}", "--sleep", "0.5"]}
    )
    settings = AgentConfig(
        api_url=server.url,
        api_key="rdv_test_key",
        work_dir=tmp_path / "work",
        poll_interval=0.05,
        heartbeat_interval=0.2,
        spool_interval=0.2,
        shutdown_grace=5,
        backoff=0.01,
        retries=1,
        sarif_tools={"slowscan": slow, "quickscan": quick},
    )
    return replace(settings, **changes)


@contextmanager
def running(settings: AgentConfig) -> Iterator[Worker]:
    worker = Worker(settings, install_signals=False)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(timeout=30)
        assert not thread.is_alive()


def scan_command(command_id: str, scanner: str, target: str, **payload) -> dict:
    return {
        "id": command_id,
        "type": "scan",
        "priority": "normal",
        "payload": {"scanner": scanner, "target": target, "timeout_seconds": 120, **payload},
    }


def final_call(server: FakeServer, command_id: str):
    """The complete or fail call of a command, once it has been made."""

    def made():
        calls = server.calls(f"{COMMANDS}/{command_id}/")
        return next((c for c in calls if c.path.endswith(("/complete", "/fail"))), None)

    return server.wait_for(made)


def test_the_worker_runs_bandit_on_the_sample_and_reports_everything(tmp_path):
    with FakeServer() as server:
        server.queue_commands(
            scan_command(
                "c1",
                "bandit",
                "github.com/acme/sample",
                target_type="repository",
                config={"path": str(SAMPLE_APP)},
                scan_id="0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f",
            )
        )
        with running(settings_for(server, tmp_path)):
            done = final_call(server, "c1")

    assert done.path == f"{COMMANDS}/c1/complete"
    poll = server.calls(COMMANDS, "GET")[0]
    assert poll.query == {"limit": ["10"]}
    assert poll.headers["authorization"] == "Bearer rdv_test_key"
    lifecycle = [c.path.rsplit("/", 1)[1] for c in server.calls(f"{COMMANDS}/c1/")]
    assert lifecycle[:2] == ["acknowledge", "start"]
    assert "progress" in lifecycle and lifecycle[-1] == "complete"
    (ingest,) = server.calls(INGEST)
    report = ingest.body
    assert report["metadata"]["id"] == "0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f"
    assert report["tool"]["name"] == "bandit"
    assert report["assets"] == [
        {"id": "asset-0", "type": "repository", "value": "github.com/acme/sample"}
    ]
    assert {f["rule_id"] for f in report["findings"]} >= {"B602", "B501", "B608"}
    result = done.body["result"]
    assert result["status"] == "completed"
    assert result["exit_code"] == 1
    assert result["findings_count"] == len(report["findings"])
    assert result["duration_ms"] > 0
    assert server.calls().index(ingest) < server.calls().index(done)

    heartbeat = server.calls("/api/v1/agent/heartbeat")[0].body
    assert "bandit" in heartbeat["tools"]
    assert "sast" in heartbeat["capabilities"]
    assert 0 <= heartbeat["cpu_percent"] <= 100 and 0 < heartbeat["memory_percent"] <= 100


def test_a_tool_that_is_not_installed_fails_the_command_with_the_reason(tmp_path):
    with FakeServer() as server:
        server.queue_commands(scan_command("c1", "bandit", str(SAMPLE_APP)))
        settings = settings_for(server, tmp_path, tool_paths={"bandit": "/opt/none/bandit"})
        with running(settings):
            done = final_call(server, "c1")
    assert done.path.endswith("/fail")
    assert "bandit is not installed on this agent" in done.body["error_message"]
    assert not server.calls(INGEST)


def test_a_bad_target_fails_the_command_with_the_reason(tmp_path):
    with FakeServer() as server:
        server.queue_commands(scan_command("c1", "bandit", f"{tmp_path}/no/such/checkout"))
        with running(settings_for(server, tmp_path, work_roots=(tmp_path,))):
            done = final_call(server, "c1")
    assert done.path.endswith("/fail")
    assert "/no/such/checkout' does not exist on this agent" in done.body["error_message"]


def test_a_tool_that_hangs_is_killed_and_the_command_failed_with_the_reason(tmp_path):
    with FakeServer() as server:
        server.queue_commands(scan_command("c1", "slowscan", str(SAMPLE_APP), timeout_seconds=1))
        with running(settings_for(server, tmp_path)):
            done = final_call(server, "c1")
    assert done.path.endswith("/fail")
    assert "slowscan timed out after 1 s and was killed" in done.body["error_message"]


def test_cancel_kills_the_running_tool_and_reports_nothing_for_the_cancelled_command(tmp_path):
    with FakeServer() as server:
        server.queue_commands(scan_command("c1", "slowscan", str(SAMPLE_APP)))
        with running(settings_for(server, tmp_path)) as worker:
            pidfiles = server.wait_for(lambda: list((tmp_path / "work").rglob("pids")))
            server.wait_for(lambda: pidfiles[0].read_text().strip())
            pids = [int(p) for p in pidfiles[0].read_text().split()]
            cancel = {"id": "k1", "type": "cancel", "payload": {"command_id": "c1"}}
            server.queue_commands(cancel)
            done = final_call(server, "k1")
            server.wait_for(lambda: not any(alive(p) for p in pids))
            server.wait_for(lambda: worker.active_jobs() == 0)
    assert done.body["result"]["state"].startswith("running")
    assert not [c for c in server.calls(f"{COMMANDS}/c1/") if c.path.endswith(("complete", "fail"))]


def test_a_health_check_completes_with_a_health_report(tmp_path):
    with FakeServer() as server:
        server.queue_commands({"id": "h1", "type": "health_check", "payload": {}})
        with running(settings_for(server, tmp_path)):
            done = final_call(server, "h1")
    health = done.body["result"]["health"]
    assert "bandit" in {t["name"] for t in health["tools"]}
    assert health["active_jobs"] == 0 and health["spool_pending"] == 0
    assert health["max_jobs"] == 2


def test_a_config_update_takes_effect_at_once_and_survives_a_restart(tmp_path):
    update = {
        "id": "u1",
        "type": "config_update",
        "payload": {"config": {"max_jobs": 3, "labels": {"pool": "ci"}, "colour": "blue"}},
    }
    with FakeServer() as server:
        server.queue_commands(update)
        settings = settings_for(server, tmp_path)
        with running(settings) as worker:
            done = final_call(server, "u1")
            assert worker.settings.max_jobs == 3
    assert done.body["result"]["applied"] == {"max_jobs": 3, "labels": {"pool": "ci"}}
    assert done.body["result"]["ignored"] == ["colour"]
    saved = json.loads((tmp_path / "work" / "agent-config.json").read_text())
    assert saved == {"labels": {"pool": "ci"}, "max_jobs": 3}
    restarted = Worker(settings, install_signals=False)
    assert restarted.settings.max_jobs == 3
    assert dict(restarted.settings.labels) == {"pool": "ci"}


def test_a_bad_config_update_is_refused_and_changes_nothing(tmp_path):
    update = {"id": "u1", "type": "config_update", "payload": {"max_jobs": 0, "poll_interval": 9}}
    with FakeServer() as server:
        server.queue_commands(update)
        with running(settings_for(server, tmp_path)) as worker:
            done = final_call(server, "u1")
            assert worker.settings.poll_interval == 0.05
    assert done.path.endswith("/fail")
    assert "max_jobs must be a whole number" in done.body["error_message"]
    assert not (tmp_path / "work" / "agent-config.json").exists()


def test_a_collector_imports_the_report_a_collect_command_names(tmp_path):
    collect = {
        "id": "k1",
        "type": "collect",
        "payload": {
            "collector": "file",
            "source_config": {"path": str(DATA / "semgrep/many_vulns.json")},
            "scan_id": "s-1",
        },
    }
    with FakeServer() as server:
        server.queue_commands(collect)
        with running(settings_for(server, tmp_path, agent_type="collector", work_roots=(DATA,))):
            done = final_call(server, "k1")
    (ingest,) = server.calls(INGEST)
    assert ingest.body["tool"]["name"] == "semgrep"
    assert ingest.body["metadata"]["id"] == "s-1"
    assert done.body["result"]["findings_count"] == len(ingest.body["findings"]) == 48


def test_a_worker_that_is_not_a_collector_fails_collect_commands(tmp_path):
    collect = {"id": "k1", "type": "collect", "payload": {"source_config": {"path": "/x"}}}
    with FakeServer() as server:
        server.queue_commands(collect)
        with running(settings_for(server, tmp_path)):
            done = final_call(server, "k1")
    assert "this agent is a worker, not a collector" in done.body["error_message"]


def test_a_report_the_server_cannot_take_is_spooled_and_delivered_with_its_result_later(tmp_path):
    error = {"error": {"code": "UNAVAILABLE", "message": "down"}}
    with FakeServer() as server:
        server.reply(INGEST, *[(503, error)] * 2)  # the first try and its one retry
        server.queue_commands(scan_command("c1", "quickscan", str(SAMPLE_APP)))
        with running(settings_for(server, tmp_path)):
            done = final_call(server, "c1")
    ingests = server.calls(INGEST)
    assert [c.path for c in server.calls()].index(done.path) > server.calls().index(ingests[-1])
    assert len(ingests) == 3
    assert done.body["result"]["metadata"]["delivery"] == "spooled"
    assert list((tmp_path / "work" / "spool").glob("*.json")) == []


def test_work_beyond_max_jobs_waits_for_a_free_slot(tmp_path):
    with FakeServer() as server:
        server.queue_commands(
            scan_command("c1", "quickscan", str(SAMPLE_APP)),
            scan_command("c2", "quickscan", str(SAMPLE_APP)),
        )
        with running(settings_for(server, tmp_path, max_jobs=1)):
            final_call(server, "c2")
    paths = [c.path for c in server.calls(COMMANDS + "/")]
    assert paths.index(f"{COMMANDS}/c1/complete") < paths.index(f"{COMMANDS}/c2/start")
    assert paths.index(f"{COMMANDS}/c2/acknowledge") < paths.index(f"{COMMANDS}/c1/complete")


def test_a_command_delivered_again_while_it_runs_is_not_run_twice(tmp_path):
    command = scan_command("c1", "quickscan", str(SAMPLE_APP))
    with FakeServer() as server:
        server.queue_commands(command)
        server.queue_commands(command)
        with running(settings_for(server, tmp_path)):
            final_call(server, "c1")
            time.sleep(0.3)
    assert len(server.calls(f"{COMMANDS}/c1/start")) == 1
