"""The soak: many agents polling and ingesting against the production topology while
one django-q2 cluster is killed and restarted.

    result = soak(SoakSettings(duration=30, agents=50))
    assert result["passed"], result["problems"]

What runs: the topology of `tests/ops/topology.py` (gunicorn, two clusters, PostgreSQL,
Redis); a tenant with `agents` simulated agents, assets, manual scans (a few of them
two-stage workflows) and every-minute cron scans (`tests/ops/provision.py`, then the
HTTP API). For `duration` seconds a
thread triggers the manual scans through the API, the clusters' tick starts the cron
scans, and each agent — a thread speaking the real protocol with the agent program's
own client (`agents.runtime.client.ApiClient`) — heartbeats, polls (leases), acks,
starts, ingests a RIS report and completes. One report in `large_report_every` is over
the async threshold, so a background job stores it: those are what a killed cluster
can lose. At `kill_at` (a fraction of the duration) one cluster is SIGKILLed, process
group and all, and `restart_after` seconds later a new one starts. Then the triggers
stop, the cron scans are paused, and the agents keep polling until the queue and the
background ingests have drained.

Verdicts, from what the agents recorded and what the database holds:
  every_command_completed_once   each command created reached exactly one agent's
                                 completion, and is completed
  no_lease_handed_twice          no command was leased twice (each attempt counted,
                                 each lease event logged, once)
  no_finding_lost                every fingerprint an agent sent is stored on its asset
  every_ingest_finished          every ingest completed (none queued or failed)
  sessions_count_each_report_once  each session's findings_total is what its agent sent:
                                 a background ingest stored twice would count twice
  every_session_completed        each scan session followed its command to the end
  no_protocol_errors             no request failed for good (after the client's retries)
  no_server_errors               no 5xx answer at all, even one the client's retry hid

  every_workflow_moved_on          every workflow run reached its last stage (the last two
                                 sessions of a stage finishing together once each missed
                                 the other: scans/workflows.py `advance`)
  every_run_counted              each scan's successful + failed runs equal its runs

Django-free, like the topology: the pytest process that runs it has Django set up for
another database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import statistics
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents.runtime.client import ApiClient, ApiError, Unreachable
from tests.ops.topology import Topology, TopologyError, say

FINAL_COMMAND_STATUSES = ("completed", "failed", "dead", "expired", "canceled")
TOOLS = ("bandit", "semgrep")
SEVERITIES = ("critical", "high", "medium", "low", "info")


@dataclass
class SoakSettings:
    duration: float = 40.0  # seconds of load (triggers and polling), drain excluded
    agents: int = 50
    clusters: int = 2
    kill_at: float = 0.3  # when one cluster is killed, as a fraction of the duration
    kill_window: float = 10.0  # …or up to this much later, once ingests are in flight
    restart_after: float = 5.0  # seconds between the kill and the new cluster
    assets: int = 12
    manual_scans: int = 16
    workflow_scans: int = 4  # of the manual scans, two-stage workflows (bandit, semgrep)
    cron_scans: int = 2
    targets_per_scan: int = 2
    trigger_every: float = 0.25  # seconds between manual triggers
    poll_interval: float = 1.0  # an idle agent's pause between polls (jittered)
    poll_limit: int = 1  # one command per poll spreads the work over more agents
    heartbeat_every: float = 5.0
    small_findings: int = 5
    large_findings: int = 400  # about 140 KB of RIS: over the threshold below
    large_report_every: int = 3
    async_threshold_bytes: int = 32 * 1024
    # The ingest sweep's patience with a queued ingest whose job nobody holds; production
    # waits longer (README: settings). Short here so a lost job is found within the soak.
    requeue_after_seconds: int = 5
    web_workers: int = 4
    web_threads: int = 4
    q_workers: int = 2
    drain_timeout: float = 180.0


@dataclass
class Lease:
    agent: str
    leased_at: float
    released_at: float | None = None  # completion (or failure) reported


@dataclass
class Ledger:
    """What the agents saw and did, for the verdicts (shared by the threads)."""

    leases: dict[str, list[Lease]] = field(default_factory=lambda: defaultdict(list))
    completions: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    sent: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    findings_by_session: dict[str, int] = field(default_factory=dict)
    reports_sync: int = 0
    reports_background: int = 0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    # Server errors the agents' client met and retried (each is a bug, retried or not).
    server_errors: list[str] = field(default_factory=list)
    triggers: int = 0
    trigger_refusals: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def timed(self, name: str, started: float) -> None:
        with self.lock:
            self.latencies[name].append(time.perf_counter() - started)

    def error(self, message: str) -> None:
        with self.lock:
            if len(self.errors) < 200:
                self.errors.append(message)


def fingerprints_for(command_id: str, count: int) -> list[str]:
    """The fingerprints of one command's findings: unique to it, known in advance."""
    return [hashlib.sha256(f"soak:{command_id}:{i}".encode()).hexdigest() for i in range(count)]


def ris_report(command: dict, count: int) -> dict:
    payload = command["payload"]
    return {
        "version": "1.0",
        "metadata": {
            "id": payload.get("scan_id", ""),  # the session this run records into
            "timestamp": datetime.now(UTC).isoformat(),
            # Partial: the soak's findings never resolve each other.
            "coverage_type": "partial",
            "source_type": "scanner",
        },
        "tool": {"name": payload.get("scanner", "bandit"), "version": "soak"},
        "assets": [{"id": "a0", "type": "repository", "value": payload["target"]}],
        "findings": [
            {
                "type": "vulnerability",
                "title": f"Soak finding {i} of command {command['id']}",
                "description": "Generated by the soak test. " * 3,
                "severity": SEVERITIES[i % len(SEVERITIES)],
                "rule_id": f"soak.rule-{i % 17}",
                "asset_ref": "a0",
                "fingerprint": fingerprint,
                "location": {
                    "path": f"src/soak/module_{i}.py",
                    "start_line": 10 + i,
                    "end_line": 12 + i,
                    "snippet": "password = request.args.get('password')",
                },
                "vulnerability": {"cwe_ids": ["CWE-89"]},
            }
            for i, fingerprint in enumerate(fingerprints_for(command["id"], count))
        ],
    }


class ServerErrorsSeen(logging.Handler):
    """The agent client logs each retry; a retried 5xx is recorded in the ledger."""

    STATUS = re.compile(r"HTTP (5\d\d)")

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(level=logging.WARNING)
        self.ledger = ledger

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self.STATUS.search(message):
            with self.ledger.lock:
                if len(self.ledger.server_errors) < 200:
                    self.ledger.server_errors.append(message[:300])


class SimulatedAgent(threading.Thread):
    def __init__(self, run: SoakRun, index: int, key: str) -> None:
        super().__init__(name=f"soak-agent-{index:02d}", daemon=True)
        self.soak_run = run
        self.index = index
        self.client = ApiClient(
            run.topology.base_url, key, timeout=30, retries=6, backoff=0.5, backoff_cap=5
        )
        self.random = random.Random(index)
        self.handled = 0

    def call(self, name: str, method: str, path: str, body: Any = None):
        started = time.perf_counter()
        reply = self.client.request(method, path, body)
        self.soak_run.ledger.timed(name, started)
        return reply

    def run(self) -> None:
        settings, ledger = self.soak_run.settings, self.soak_run.ledger
        next_heartbeat = 0.0
        while not self.soak_run.stop_agents.is_set():
            try:
                if time.monotonic() >= next_heartbeat:
                    self.call(
                        "heartbeat",
                        "POST",
                        "/api/v1/agent/heartbeat",
                        {"status": "running", "version": "soak", "tools": list(TOOLS)},
                    )
                    next_heartbeat = time.monotonic() + settings.heartbeat_every
                commands = self.call(
                    "poll", "GET", f"/api/v1/agent/commands?limit={settings.poll_limit}"
                ).body
            except (ApiError, Unreachable) as exc:
                ledger.error(f"{self.name} poll: {exc}")
                self.soak_run.stop_agents.wait(1)
                continue
            now = time.perf_counter()
            with ledger.lock:
                for command in commands:
                    ledger.leases[command["id"]].append(Lease(self.name, now))
            # Acknowledge everything first, as a real agent accepts its jobs at once.
            accepted = [c for c in commands if self.lifecycle(c, "acknowledge")]
            for command in accepted:
                self.handle(command)
            if not commands:
                pause = settings.poll_interval * self.random.uniform(0.5, 1.5)
                self.soak_run.stop_agents.wait(pause)

    def lifecycle(self, command: dict, action: str, body: Any = None) -> bool:
        try:
            self.call(action, "POST", f"/api/v1/agent/commands/{command['id']}/{action}", body)
            return True
        except ApiError as exc:
            what = f"{self.name} {action} {command['id']}: {exc}"
            if exc.status == 409:
                with self.soak_run.ledger.lock:
                    self.soak_run.ledger.conflicts.append(what)
            else:
                self.soak_run.ledger.error(what)
        except Unreachable as exc:
            self.soak_run.ledger.error(f"{self.name} {action} {command['id']}: {exc}")
        return False

    def handle(self, command: dict) -> None:
        ledger, settings = self.soak_run.ledger, self.soak_run.settings
        if command["type"] != "scan":
            self.lifecycle(command, "complete", {"result": {"status": "completed"}})
            return
        if not self.lifecycle(command, "start"):
            return
        self.handled += 1
        large = self.random.randrange(settings.large_report_every) == 0
        count = settings.large_findings if large else settings.small_findings
        report = ris_report(command, count)
        try:
            reply = self.call("ingest", "POST", "/api/v1/agent/ingest/ris", report)
        except (ApiError, Unreachable) as exc:
            ledger.error(f"{self.name} ingest {command['id']}: {exc}")
            if self.lifecycle(command, "fail", {"error_message": str(exc)}):
                self.released(command)
            return
        with ledger.lock:
            ledger.sent[command["payload"]["target"]].update(
                f["fingerprint"] for f in report["findings"]
            )
            ledger.findings_by_session[command["payload"]["scan_id"]] = count
            if reply.status == 202:
                ledger.reports_background += 1
            else:
                ledger.reports_sync += 1
        # Like the agent program: a queued (202) report is the server's now; complete.
        if self.lifecycle(
            command, "complete", {"result": {"status": "completed", "findings_count": count}}
        ):
            with ledger.lock:
                ledger.completions[command["id"]].append(self.name)
            self.released(command)

    def released(self, command: dict) -> None:
        """The agent let go of the command (completed or failed it): its lease ends."""
        ledger = self.soak_run.ledger
        with ledger.lock:
            for lease in ledger.leases[command["id"]]:
                if lease.agent == self.name and lease.released_at is None:
                    lease.released_at = time.perf_counter()


class Triggerer(threading.Thread):
    """Runs the manual scans through the management API, round the clock."""

    def __init__(self, run: SoakRun, scan_ids: list[str]) -> None:
        super().__init__(name="soak-triggerer", daemon=True)
        self.soak_run = run
        self.scan_ids = scan_ids

    def run(self) -> None:
        run, ledger = self.soak_run, self.soak_run.ledger
        rng = random.Random(7)
        due = time.monotonic()
        while True:
            # A fixed cadence: a slow reply does not slow the triggers down.
            due += run.settings.trigger_every
            if run.stop_triggers.wait(max(0.0, due - time.monotonic())):
                break
            scan_id = rng.choice(self.scan_ids)
            started = time.perf_counter()
            try:
                reply = run.topology.http(
                    "POST", f"/api/v1/scans/{scan_id}/trigger", token=run.token
                )
            except OSError as exc:
                ledger.error(f"trigger {scan_id}: {exc}")
                continue
            ledger.timed("trigger", started)
            with ledger.lock:
                if reply.status == 201:
                    ledger.triggers += 1
                else:
                    ledger.trigger_refusals += 1
            if reply.status != 201:
                ledger.error(f"trigger {scan_id}: {reply.status} {reply.text[:200]}")


class SoakRun:
    def __init__(self, topology: Topology, settings: SoakSettings) -> None:
        self.topology = topology
        self.settings = settings
        self.ledger = Ledger()
        self.stop_agents = threading.Event()
        self.stop_triggers = threading.Event()
        self.events: dict[str, float] = {}
        self.started = time.perf_counter()
        self.drain_problem = ""
        self.in_flight_at_kill: int | None = None
        self.handled_per_agent: list[int] = []

    def mark(self, event: str) -> None:
        self.events[event] = round(time.perf_counter() - self.started, 2)
        say(f"soak: {event} at {self.events[event]} s")

    # -------------------------------------------------------------- set-up

    def provision(self) -> None:
        s = self.settings
        data = json.loads(
            self.topology.run_module(
                "tests.ops.provision",
                "soak",
                "--agents",
                str(s.agents),
                "--assets",
                str(s.assets),
                "--tools",
                ",".join(TOOLS),
            )
            .strip()
            .splitlines()[-1]
        )
        self.tenant_id = uuid.UUID(data["tenant"])
        self.token = data["token"]
        self.agent_keys = [agent["key"] for agent in data["agents"]]
        self.assets = data["assets"]
        rng = random.Random(11)
        self.manual_scans = [
            self.create_scan(
                f"soak-manual-{i:02d}",
                rng,
                schedule={"schedule_type": "manual"},
                workflow=i < s.workflow_scans,
            )
            for i in range(s.manual_scans)
        ]
        self.cron_scans = [
            self.create_scan(
                f"soak-cron-{i:02d}",
                rng,
                schedule={"schedule_type": "crontab", "schedule_cron": "* * * * *"},
            )
            for i in range(s.cron_scans)
        ]

    def create_scan(
        self, name: str, rng: random.Random, *, schedule: dict, workflow: bool = False
    ) -> str:
        targets = rng.sample(self.assets, self.settings.targets_per_scan)
        kind = (
            # Two stages: the second starts when every session of the first is over.
            {
                "scan_type": "workflow",
                "pipeline": [{"tools": [tool], "continue_on_failure": False} for tool in TOOLS],
            }
            if workflow
            else {"scan_type": "single", "scanner_name": rng.choice(TOOLS)}
        )
        reply = self.topology.http(
            "POST",
            "/api/v1/scans",
            json_body={
                "name": name,
                **kind,
                "targets": [t["id"] for t in targets],
                **schedule,
            },
            token=self.token,
        )
        if reply.status != 201:
            raise TopologyError(f"creating scan {name}: {reply.status} {reply.text}")
        return reply.json()["id"]

    # -------------------------------------------------------------- the run

    def drive(self) -> None:
        s = self.settings
        agents = [SimulatedAgent(self, i, key) for i, key in enumerate(self.agent_keys)]
        triggerer = Triggerer(self, self.manual_scans)
        client_log = logging.getLogger("rediverio.agent")
        seen = ServerErrorsSeen(self.ledger)
        client_log.addHandler(seen)
        self.started = time.perf_counter()
        for agent in agents:
            agent.start()
        triggerer.start()
        self.mark("load started")
        try:
            self.sleep_until(s.duration * s.kill_at)
            self.in_flight_at_kill = self.wait_for_background_ingests(s.kill_window)
            self.topology.kill_cluster(0)
            self.mark("cluster 0 killed (SIGKILL)")
            time.sleep(s.restart_after)
            self.topology.restart_cluster(0)
            self.mark("cluster 0 restarted")
            self.sleep_until(s.duration)
            self.stop_triggers.set()
            triggerer.join(30)
            for scan_id in self.cron_scans:
                self.topology.http("POST", f"/api/v1/scans/{scan_id}/pause", token=self.token)
            self.mark("triggers stopped, cron scans paused; draining")
            self.drain()
            self.mark("drained")
        finally:
            self.stop_triggers.set()
            self.stop_agents.set()
            for agent in agents:
                agent.join(60)
            client_log.removeHandler(seen)
        self.handled_per_agent = [agent.handled for agent in agents]

    def sleep_until(self, offset: float) -> None:
        remaining = self.started + offset - time.perf_counter()
        if remaining > 0:
            time.sleep(remaining)

    def wait_for_background_ingests(self, window: float) -> int:
        """Wait (at most `window` s) until background ingests are being processed, so
        that the kill has work in flight to lose: with two of them processing, either
        both are on one cluster or each cluster holds one. Returns how many there are."""
        deadline = time.monotonic() + window
        while True:
            processing = self.count_ingests("processing")
            if processing >= 2 or time.monotonic() >= deadline:
                return processing
            time.sleep(0.05)

    def count_ingests(self, *statuses: str) -> int:
        return self.topology.sql(
            "SELECT count(*) FROM ingests WHERE tenant_id = %s AND status = ANY(%s)",
            (self.tenant_id, list(statuses)),
        )[0][0]

    def open_commands(self) -> int:
        return self.topology.sql(
            "SELECT count(*) FROM commands WHERE tenant_id = %s AND NOT status = ANY(%s)",
            (self.tenant_id, list(FINAL_COMMAND_STATUSES)),
        )[0][0]

    def drain(self) -> None:
        """Until no command is open and no report waits, twice in a row (a tick that
        claimed a cron scan just before its pause may still add a run)."""
        quiet_checks = 0

        def drained() -> bool:
            nonlocal quiet_checks
            idle = self.open_commands() == 0 and self.count_ingests("queued", "processing") == 0
            quiet_checks = quiet_checks + 1 if idle else 0
            return quiet_checks >= 3

        try:
            self.topology.wait_until(
                drained, timeout=self.settings.drain_timeout, what="the soak to drain", interval=1
            )
        except TopologyError as exc:
            self.drain_problem = str(exc)
        else:
            self.drain_problem = ""

    # -------------------------------------------------------------- verdicts

    def verdicts(self) -> dict[str, Any]:
        sql, tenant, ledger = self.topology.sql, self.tenant_id, self.ledger
        commands = {
            str(command_id): (status, attempts)
            for command_id, status, attempts in sql(
                "SELECT id, status, attempts FROM commands WHERE tenant_id = %s AND type = 'scan'",
                (tenant,),
            )
        }
        lease_events = Counter(
            {
                str(command_id): n
                for command_id, n in sql(
                    "SELECT command_id, count(*) FROM command_events WHERE tenant_id = %s "
                    "AND message LIKE 'leased%%' GROUP BY command_id",
                    (tenant,),
                )
            }
        )
        not_completed = sorted(c for c, (status, _) in commands.items() if status != "completed")
        completed_not_once = sorted(
            c for c in commands if len(ledger.completions.get(c, [])) != 1
        ) + sorted(c for c in ledger.completions if c not in commands)
        leased_twice = sorted(
            c
            for c in commands
            if len(ledger.leases.get(c, [])) > 1 or lease_events[c] > 1 or commands[c][1] > 1
        )
        overlaps = self.lease_overlaps()

        stored: dict[str, set[str]] = defaultdict(set)
        for identifier, fingerprint in sql(
            "SELECT a.identifier, f.fingerprint FROM findings f JOIN assets a ON a.id = f.asset_id "
            "WHERE f.tenant_id = %s",
            (tenant,),
        ):
            stored[identifier].add(fingerprint)
        missing = {
            asset: len(sent - stored[asset])
            for asset, sent in ledger.sent.items()
            if sent - stored[asset]
        }
        unexpected = {
            asset: len(found - ledger.sent.get(asset, set()))
            for asset, found in stored.items()
            if found - ledger.sent.get(asset, set())
        }
        ingests = dict(
            sql(
                "SELECT status, count(*) FROM ingests WHERE tenant_id = %s GROUP BY status",
                (tenant,),
            )
        )
        requeued = self.logged_requeues()
        session_totals = {
            str(session_id): total
            for session_id, total in sql(
                "SELECT id, findings_total FROM scan_sessions WHERE tenant_id = %s "
                "AND scan_id IS NOT NULL",
                (tenant,),
            )
        }
        miscounted = sorted(
            s for s, sent in ledger.findings_by_session.items() if session_totals.get(s) != sent
        )
        runs_uncounted = {
            str(scan_id): (runs, counted)
            for scan_id, runs, counted in sql(
                # Every run is over here, so none is active (scans/runs.py): each run
                # started is counted once and closed once.
                "SELECT s.id, count(DISTINCT ss.run_id), "
                "s.successful_runs + s.failed_runs + s.canceled_runs "
                "FROM scans s JOIN scan_sessions ss ON ss.scan_id = s.id "
                "WHERE s.tenant_id = %s GROUP BY s.id HAVING "
                "count(DISTINCT ss.run_id) <> s.total_runs OR count(DISTINCT ss.run_id) <> "
                "s.successful_runs + s.failed_runs + s.canceled_runs",
                (tenant,),
            )
        }
        # A finished workflow run has sessions of its last stage (every session completes
        # here, so the pipeline never stops early).
        workflow_runs = sql(
            "SELECT ss.run_id, max(ss.stage) FROM scan_sessions ss JOIN scans s "
            "ON s.id = ss.scan_id WHERE s.tenant_id = %s AND s.scan_type = 'workflow' "
            "GROUP BY ss.run_id",
            (tenant,),
        )
        workflow_runs_stuck = [str(run) for run, stage in workflow_runs if stage < len(TOOLS) - 1]
        sessions_unfinished = {
            str(session_id): status
            for session_id, status in sql(
                "SELECT id, status FROM scan_sessions WHERE tenant_id = %s "
                "AND scan_id IS NOT NULL AND status <> 'completed'",
                (tenant,),
            )
        }
        verdicts = {
            "every_command_completed_once": not not_completed and not completed_not_once,
            "no_lease_handed_twice": not leased_twice and not overlaps and not ledger.conflicts,
            "no_finding_lost": not missing,
            "every_ingest_finished": set(ingests) <= {"completed"},
            "sessions_count_each_report_once": not miscounted,
            "every_session_completed": not sessions_unfinished,
            "no_protocol_errors": not ledger.errors,
            "no_server_errors": not ledger.server_errors,
            "every_workflow_moved_on": not workflow_runs_stuck,
            "every_run_counted": not runs_uncounted,
            "drained": not self.drain_problem,
        }
        problems = {
            "commands_not_completed": not_completed[:20],
            "commands_not_completed_exactly_once": completed_not_once[:20],
            "commands_leased_more_than_once": leased_twice[:20],
            "lease_overlaps": overlaps[:20],
            "lease_conflicts": ledger.conflicts[:20],
            "findings_missing_by_asset": missing,
            "sessions_miscounted": miscounted[:20],
            "sessions_not_completed": dict(list(sessions_unfinished.items())[:20]),
            "scans_runs_vs_counted": runs_uncounted,
            "workflow_runs_stuck_after_a_stage": workflow_runs_stuck[:20],
            "errors": ledger.errors[:20],
            "server_errors_retried": ledger.server_errors[:20],
            "drain": self.drain_problem,
        }
        counts = {
            "sessions_not_completed": len(sessions_unfinished),
            "workflow_runs": len(workflow_runs),
            "workflow_runs_stuck_after_a_stage": len(workflow_runs_stuck),
            "scans_with_runs_not_counted": len(runs_uncounted),
            "server_errors_retried": len(ledger.server_errors),
            "commands_created": len(commands),
            "commands_completed": sum(1 for s, _ in commands.values() if s == "completed"),
            "command_status": dict(Counter(s for s, _ in commands.values())),
            "manual_triggers": ledger.triggers,
            "trigger_refusals": ledger.trigger_refusals,
            "reports_sent": ledger.reports_sync + ledger.reports_background,
            "reports_stored_in_request": ledger.reports_sync,
            "reports_stored_by_background_job": ledger.reports_background,
            "ingests_processing_when_cluster_killed": self.in_flight_at_kill,
            "ingests_requeued_by_sweep": requeued,
            "ingests_by_status": ingests,
            "findings_sent": sum(len(v) for v in ledger.sent.values()),
            "findings_stored": sum(len(v) for v in stored.values()),
            "findings_unexpected_by_asset": unexpected,
            "agents_that_worked": sum(1 for n in self.handled_per_agent if n),
        }
        return {"verdicts": verdicts, "problems": problems, "counts": counts}

    def logged_requeues(self) -> int:
        """Background ingests the sweep gave a new job, from the clusters' JSON logs."""
        count = 0
        for process in self.topology.processes:
            for line in process.log().splitlines():
                if '"ingest.tasks"' in line and "queued again" in line:
                    count += 1
        return count

    def lease_overlaps(self) -> list[str]:
        """Commands leased to a second agent before the first holder let go."""
        found = []
        for command_id, leases in self.ledger.leases.items():
            ordered = sorted(leases, key=lambda lease: lease.leased_at)
            for earlier, later in zip(ordered, ordered[1:], strict=False):
                if earlier.released_at is None or later.leased_at < earlier.released_at:
                    found.append(f"{command_id}: {earlier.agent} then {later.agent}")
        return found

    def throughput(self) -> dict[str, Any]:
        ledger, load_seconds = self.ledger, self.settings.duration
        latencies = {}
        for name, samples in sorted(ledger.latencies.items()):
            latencies[name] = {"count": len(samples), **_percentiles(samples)}
        end_to_end = [
            seconds
            for (seconds,) in self.topology.sql(
                "SELECT extract(epoch FROM completed_at - created_at)::float FROM commands "
                "WHERE tenant_id = %s AND status = 'completed'",
                (self.tenant_id,),
            )
        ]
        requests = sum(len(samples) for samples in ledger.latencies.values())
        elapsed = self.events.get("drained", load_seconds)
        return {
            "requests": requests,
            "requests_per_second": round(requests / elapsed, 1),
            "commands_completed_per_second": round(len(end_to_end) / elapsed, 2),
            "findings_sent_per_second": round(
                sum(len(v) for v in ledger.sent.values()) / elapsed, 1
            ),
            "command_created_to_completed_seconds": _percentiles(end_to_end, unit=1),
            "latency_ms": latencies,
        }


def _percentiles(samples: list[float], unit: float = 1000) -> dict[str, float | None]:
    if not samples:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return {
        "p50": round(statistics.median(ordered) * unit, 1),
        "p95": round(p95 * unit, 1),
        "max": round(ordered[-1] * unit, 1),
    }


def soak(settings: SoakSettings | None = None) -> dict[str, Any]:
    """Run the soak on a topology of its own; the result says what happened and whether
    every verdict held (`passed`)."""
    settings = settings or SoakSettings()
    started = time.perf_counter()
    topology = Topology(
        "soak",
        web_workers=settings.web_workers,
        web_threads=settings.web_threads,
        q_workers=settings.q_workers,
        collectstatic=False,  # the soak serves no page
        extra_env={
            "INGEST_ASYNC_THRESHOLD_BYTES": str(settings.async_threshold_bytes),
            "INGEST_REQUEUE_AFTER_SECONDS": str(settings.requeue_after_seconds),
            # The soak measures the queue, not the throttles.
            "SCAN_TRIGGER_RATE": "100000/min",
            "AGENT_RATE_LIMIT": "1000/s",
        },
    )
    with topology:
        topology.start_web()
        topology.start_clusters(settings.clusters)
        run = SoakRun(topology, settings)
        with topology.timed("provision"):
            run.provision()
        run.drive()
        outcome = run.verdicts()
        result = {
            "settings": asdict(settings),
            "events_seconds": run.events,
            **outcome,
            "throughput": run.throughput(),
            "passed": all(outcome["verdicts"].values()),
        }
        if not result["passed"]:
            # Shown with the result; the topology prints its logs only on exceptions.
            result["log_tails"] = topology.log_tails(20)
    result["timings_seconds"] = {
        **topology.timings,
        "total": round(time.perf_counter() - started, 1),
    }
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.ops.soak")
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--agents", type=int, default=50)
    options = parser.parse_args()
    outcome = soak(SoakSettings(duration=options.duration, agents=options.agents))
    print(json.dumps(outcome, indent=2))
