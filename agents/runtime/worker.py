"""The daemon: heartbeat, poll, run, deliver, report back (the "Daemon Agent Flow").

Threads: the main loop polls for commands and starts jobs; one thread per running job
(at most `max_jobs`, changeable by config_update); a heartbeat thread (every 30 s, the
tools found, active jobs, CPU and memory); a spool thread that re-sends undelivered
reports on start and every minute.

Commands are acknowledged as soon as they are polled. Work that finds every slot taken
waits in a local backlog: acknowledged, so that it is not handed to another agent after
the ack timeout, and failed (so the server retries it elsewhere) if the agent stops
before starting it. Delivery is at-least-once on the server's side, so a command id
already running or waiting here is not taken twice.

SIGTERM (or Ctrl-C): stop polling, let running jobs finish within `shutdown_grace`,
then kill what is left and fail it with the reason. A second signal cuts the grace.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents.runtime import VERSION
from agents.runtime.adapters import ScanError, ToolInfo, advertised_names, installed_tools
from agents.runtime.adapters.base import ScanCancelled
from agents.runtime.client import ApiClient, ApiError, Unreachable
from agents.runtime.commands import collect_report, health_report
from agents.runtime.config import AgentConfig, ConfigError
from agents.runtime.delivery import Delivery, Spool
from agents.runtime.jobs import ScanRequest, execute_scan
from agents.runtime.metrics import CpuMeter, memory_percent
from agents.runtime.ris import to_ris
from protocol.commands import (
    WORK_TYPES,
    CancelCommand,
    CollectCommand,
    CommandType,
    ConfigUpdateCommand,
    HealthCheckCommand,
    PayloadError,
    ScanCommand,
    command_from_wire,
)

log = logging.getLogger("rediverio.agent")

COMMANDS = "/api/v1/agent/commands"
HEARTBEAT = "/api/v1/agent/heartbeat"
POLL_LIMIT = 10
# Why a job's cancel event was set.
SERVER_CANCELLED, SHUTTING_DOWN = "server cancelled", "shutting down"


@dataclass(slots=True)
class RunningJob:
    command: dict[str, Any]
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    # Why `cancel` was set: the server cancelled the command, or this agent stops.
    reason: str = ""


def make_client(settings: AgentConfig) -> ApiClient:
    return ApiClient(
        settings.api_url,
        settings.api_key,
        agent_id=settings.agent_id,
        timeout=settings.request_timeout,
        retries=settings.retries,
        backoff=settings.backoff,
    )


class Worker:
    def __init__(
        self,
        settings: AgentConfig,
        *,
        client: ApiClient | None = None,
        install_signals: bool = True,
    ) -> None:
        self.settings = settings.with_persisted()
        self.client = client or make_client(self.settings)
        self.delivery = Delivery(self.client, Spool(self.settings.spool_dir))
        self.install_signals = install_signals
        self.stopping = threading.Event()  # take no new work
        self.hurry = threading.Event()  # a second signal: no more grace
        self.halted = threading.Event()  # background threads end
        self.lock = threading.RLock()
        self.jobs: dict[str, RunningJob] = {}
        self.backlog: deque[dict[str, Any]] = deque()
        self.tools: list[ToolInfo] = []
        self.started_at = time.monotonic()
        self.total_scans = 0
        self.errors = 0
        self.cpu = CpuMeter()

    # ------------------------------------------------------------ main loop

    def run(self) -> int:
        if self.install_signals:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        self.refresh_tools()
        log.info(
            "worker %s started: %s; tools: %s",
            self.settings.name,
            self.settings.api_url,
            ", ".join(t.name for t in self.tools) or "none",
        )
        background = [
            threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True),
            threading.Thread(target=self._spool_loop, name="spool", daemon=True),
        ]
        for thread in background:
            thread.start()
        while not self.stopping.is_set():
            self.poll_once()
            self.stopping.wait(self.settings.poll_interval)
        self._shutdown()
        self.halted.set()
        for thread in background:
            thread.join(timeout=5)
        return 0

    def stop(self) -> None:
        self.stopping.set()

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.stopping.is_set():
            self.hurry.set()
        log.info(
            "signal %d: stopping (running jobs get %.0f s)", signum, self.settings.shutdown_grace
        )
        self.stopping.set()

    def poll_once(self) -> int:
        try:
            # No retries: the next poll comes soon enough, and a long backoff here would
            # delay the cancel commands this poll is also for.
            reply = self.client.request("GET", COMMANDS, query={"limit": POLL_LIMIT}, retries=0)
        except (Unreachable, ApiError) as exc:
            log.warning("poll failed: %s", exc)
            return 0
        commands = [c for c in reply.body or [] if isinstance(c, dict) and c.get("id")]
        for command in commands:
            self.handle(command)
        return len(commands)

    def handle(self, command: dict[str, Any]) -> None:
        command_id, kind = str(command["id"]), command.get("type")
        with self.lock:
            if command_id in self.jobs or any(str(c["id"]) == command_id for c in self.backlog):
                return  # delivered again while we hold it
        if not self._lifecycle(command_id, "acknowledge"):
            return
        try:
            typed = command_from_wire(kind, command.get("payload"))
        except PayloadError as exc:
            self._fail(command_id, f"this agent cannot run this command: {exc}")
            return
        if typed.type in WORK_TYPES:
            if typed.type is CommandType.COLLECT and self.settings.agent_type != "collector":
                self._fail(
                    command_id, f"this agent is a {self.settings.agent_type}, not a collector"
                )
            elif self.stopping.is_set():
                self._fail(command_id, "the agent is shutting down")
            else:
                with self.lock:
                    self.backlog.append(command)
                    self._start_backlog()
        elif isinstance(typed, CancelCommand):
            self._complete(command_id, self._cancel(typed.command_id))
        elif isinstance(typed, HealthCheckCommand):
            self._complete(command_id, {"health": health_report(self)})
        elif isinstance(typed, ConfigUpdateCommand):
            self._config_update(command_id, typed.config)

    # ------------------------------------------------------------ jobs

    def active_jobs(self) -> int:
        with self.lock:
            return len(self.jobs)

    def queued_jobs(self) -> int:
        with self.lock:
            return len(self.backlog)

    def _start_backlog(self) -> None:
        with self.lock:
            while self.backlog and len(self.jobs) < self.settings.max_jobs:
                if self.stopping.is_set():
                    return
                command = self.backlog.popleft()
                job = RunningJob(command)
                job.thread = threading.Thread(
                    target=self._run_job, args=(job,), name=f"job-{command['id']}", daemon=True
                )
                self.jobs[str(command["id"])] = job
                job.thread.start()

    def _run_job(self, job: RunningJob) -> None:
        command = job.command
        command_id = str(command["id"])
        started = time.monotonic()
        try:
            self._lifecycle(command_id, "start")
            typed = command_from_wire(command.get("type"), command.get("payload"))
            if isinstance(typed, ScanCommand):
                outcome = execute_scan(
                    ScanRequest.from_command(typed),
                    self.settings,
                    cancel=job.cancel,
                    progress=(lambda p, m: self._progress(job, p, m))
                    if typed.report_progress
                    else None,
                )
                report, exit_code = outcome.report, outcome.exit_code
            elif isinstance(typed, CollectCommand):
                report, exit_code = collect_report(typed, self.settings.scan_roots), 0
            else:
                raise ScanError(f"{typed.type} is not work")
            document = to_ris(report, scan_id=typed.scan_id, agent_id=self.settings.agent_id)
            delivered = self.delivery.send_report(
                document, label=f"{report.tool_name} for command {command_id}"
            )
            result = {
                "exit_code": exit_code,
                "findings_count": len(report.findings),
                "duration_ms": int((time.monotonic() - started) * 1000),
                "metadata": {
                    "tool": report.tool_name,
                    "tool_version": report.tool_version,
                    "delivery": "spooled" if delivered.spooled else "delivered",
                    "ingest": delivered.reply if isinstance(delivered.reply, dict) else None,
                },
            }
            self.total_scans += 1
            self._complete(command_id, result, defer=delivered.spooled)
        except ScanCancelled as exc:
            if job.reason == SHUTTING_DOWN:
                self._fail(
                    command_id,
                    "the agent was stopped before the scan finished; the tool was killed "
                    f"after the {self.settings.shutdown_grace:.0f} s grace period",
                )
            else:
                log.info("command %s cancelled: %s", command_id, exc)
        except ApiError as exc:
            self.errors += 1
            self._fail(command_id, f"the server refused the report: {exc}")
        except (ScanError, PayloadError) as exc:
            self.errors += 1
            self._fail(command_id, str(exc))
        except Exception as exc:  # a bug must fail the command, not leave it hanging
            self.errors += 1
            log.exception("command %s crashed", command_id)
            self._fail(command_id, f"agent error: {exc!r}")
        finally:
            with self.lock:
                self.jobs.pop(command_id, None)
                self._start_backlog()

    def _cancel(self, command_id: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(command_id)
            if job is not None:
                job.reason = SERVER_CANCELLED
                job.cancel.set()
                state = "running: its processes are being killed"
            else:
                before = len(self.backlog)
                self.backlog = deque(c for c in self.backlog if str(c["id"]) != command_id)
                state = "queued: dropped" if len(self.backlog) < before else "not held here"
        log.info("cancel %s: %s", command_id, state)
        return {"cancelled_command": command_id, "state": state}

    def _config_update(self, command_id: str, changes: dict[str, Any]) -> None:
        try:
            self.settings, applied, ignored = self.settings.apply_update(changes)
        except ConfigError as exc:
            self._fail(command_id, f"config_update refused: {exc}")
            return
        if "tool_paths" in applied:
            self.refresh_tools()
        with self.lock:
            self._start_backlog()  # a larger max_jobs takes effect at once
        log.info("config_update applied %s; ignored %s", applied, ignored)
        self._complete(command_id, {"applied": applied, "ignored": ignored})

    # ------------------------------------------------------------ background

    def refresh_tools(self) -> list[ToolInfo]:
        self.tools = installed_tools(
            dict(self.settings.tool_paths), dict(self.settings.sarif_tools)
        )
        return self.tools

    def heartbeat(self, status: str = "running") -> bool:
        names = advertised_names(self.tools)
        body = {
            "name": self.settings.name,
            "status": status,
            "version": VERSION,
            "hostname": socket.gethostname(),
            "region": self.settings.region,
            "scanners": names,
            "tools": names,
            # What its tools give, by the table the server reads to decide what a scan
            # needs: so every tool advertised here brings the capability it needs.
            "capabilities": sorted({c for t in self.tools for c in t.capabilities}),
            "labels": dict(self.settings.labels),
            "uptime_seconds": int(time.monotonic() - self.started_at),
            "total_scans": self.total_scans,
            "errors": self.errors,
            "cpu_percent": self.cpu.percent(),
            "memory_percent": memory_percent(),
            "active_jobs": self.active_jobs(),
        }
        try:
            self.client.request("POST", HEARTBEAT, body, retries=0)
            return True
        except (Unreachable, ApiError) as exc:
            log.warning("heartbeat failed: %s", exc)
            return False

    def _heartbeat_loop(self) -> None:
        while not self.halted.is_set():
            if not self.stopping.is_set():
                self.heartbeat()
            self.halted.wait(self.settings.heartbeat_interval)

    def _spool_loop(self) -> None:
        while not self.halted.is_set():
            try:
                self.delivery.flush()
            except Exception:  # the spool must keep trying whatever one entry does
                log.exception("spool flush failed")
            self.halted.wait(self.settings.spool_interval)

    # ------------------------------------------------------------ shutdown

    def _shutdown(self) -> None:
        self.heartbeat("stopping")
        with self.lock:
            waiting, self.backlog = list(self.backlog), deque()
        for command in waiting:
            self._fail(str(command["id"]), "the agent stopped before starting this command")
        deadline = time.monotonic() + self.settings.shutdown_grace
        while self.active_jobs() and time.monotonic() < deadline and not self.hurry.is_set():
            time.sleep(0.1)
        with self.lock:
            left = list(self.jobs.values())
        for job in left:
            log.warning("grace period over: killing command %s", job.command["id"])
            job.reason = SHUTTING_DOWN
            job.cancel.set()
        for job in left:
            if job.thread is not None:
                job.thread.join(timeout=30)
        self.delivery.flush()
        self.heartbeat("stopped")
        log.info("worker stopped")

    # ------------------------------------------------------------ lifecycle calls

    def _lifecycle(self, command_id: str, verb: str) -> bool:
        try:
            self.client.request("POST", f"{COMMANDS}/{command_id}/{verb}", retries=1)
            return True
        except (Unreachable, ApiError) as exc:
            log.warning("%s of command %s failed: %s", verb, command_id, exc)
            return False

    def _progress(self, job: RunningJob, percent: int, message: str) -> None:
        command_id = job.command["id"]
        try:
            self.client.request(
                "POST",
                f"{COMMANDS}/{command_id}/progress",
                {"percent": percent, "message": message[:500]},
                retries=0,
            )
        except ApiError as exc:
            if exc.code == "COMMAND_CANCELED":
                job.reason = job.reason or SERVER_CANCELLED
                job.cancel.set()
        except Unreachable:
            pass  # progress is a courtesy; the result is what must arrive

    def _complete(self, command_id: str, result: dict[str, Any], *, defer: bool = False) -> None:
        body = {
            "result": {
                "status": "completed",
                "completed_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "duration_ms": 0,
                "exit_code": 0,
                "findings_count": 0,
                **result,
            }
        }
        self._final_call(command_id, "complete", body, defer)

    def _fail(self, command_id: str, message: str) -> None:
        log.warning("command %s failed: %s", command_id, message)
        self._final_call(command_id, "fail", {"error_message": message[:10_000]}, False)

    def _final_call(self, command_id: str, verb: str, body: dict, defer: bool) -> None:
        try:
            self.delivery.send_call(f"{COMMANDS}/{command_id}/{verb}", body, defer=defer)
        except ApiError as exc:
            # 409: canceled or taken back meanwhile; the server no longer wants this.
            log.warning("%s of command %s refused: %s", verb, command_id, exc)
