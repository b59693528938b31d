"""One scan, start to finish, shared by the worker and `run`: resolve the target, find
the tool, clone when needed, run it, read its report, and attach the scan's asset and
session id. The work directory of the job is removed afterwards, clone included."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agents.runtime.adapters import ScanError, adapter_for, target_kinds_of
from agents.runtime.adapters.base import Job, ScanCancelled, ScanOutcome, run_scan
from agents.runtime.config import AgentConfig
from agents.runtime.confine import OutsideWorkRoots
from agents.runtime.targets import GIT, PATH, Target, TargetError, cleanup, prepare, resolve_target
from protocol.commands import ScanCommand
from protocol.report import Report, ReportTarget

MAX_TEMPLATE_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 3600
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")

Progress = Callable[[int, str], None]


@dataclass(slots=True)
class ScanRequest:
    scanner: str
    target: str
    target_type: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    scan_id: str = ""
    templates: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_command(cls, command: ScanCommand) -> ScanRequest:
        """What this agent runs for a scan command (protocol/commands.py)."""
        return cls(
            scanner=command.scanner,
            target=command.target,
            target_type=command.target_type,
            config=command.config,
            timeout=max(1.0, command.timeout_seconds or DEFAULT_TIMEOUT),
            scan_id=command.scan_id,
            templates=command.custom_templates,
        )


def execute_scan(
    request: ScanRequest,
    settings: AgentConfig,
    *,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    target: Target | None = None,
) -> ScanOutcome:
    """Run one tool on one target. Raises ScanError (ToolMissing, ScanCancelled…) with
    the reason the command failed."""
    progress = progress or (lambda percent, message: None)
    deadline = time.monotonic() + request.timeout
    roots = settings.scan_roots
    try:
        if target is None:
            target = resolve_target(request.target, request.target_type, request.config, roots)
        elif target.kind == PATH and target.local_path is not None:
            target.local_path = roots.check(target.local_path, "the target")
    except (TargetError, OutsideWorkRoots) as exc:
        raise ScanError(str(exc)) from exc
    # An impossible pair is refused before anything is looked up, cloned or started.
    accepted = target_kinds_of(request.scanner, dict(settings.sarif_tools))
    if accepted is not None and (PATH if target.kind == GIT else target.kind) not in accepted:
        raise ScanError(
            f"{request.scanner} cannot scan a {target.kind} target ({target.value}); "
            f"it scans: {', '.join(sorted(accepted - {GIT}))}"
        )
    adapter = adapter_for(
        request.scanner,
        tool_paths=dict(settings.tool_paths),
        sarif_tools=dict(settings.sarif_tools),
        payload_command=request.config.get("command"),
        allow_payload_commands=settings.allow_payload_commands,
    )
    job_dir = settings.work_dir / "jobs" / uuid.uuid4().hex
    job_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    try:
        if target.kind == GIT:
            progress(5, f"cloning {target.clone_url}")
            try:
                prepare(
                    target,
                    settings.work_dir,
                    ref=str(request.config.get("ref") or request.config.get("branch") or ""),
                    cancel=cancel,
                    timeout=max(1.0, deadline - time.monotonic()),
                )
            except TargetError as exc:
                if cancel is not None and cancel.is_set():
                    raise ScanCancelled(str(exc)) from exc
                raise ScanError(str(exc)) from exc
        templates = write_templates(request.templates, adapter.template_type, job_dir)
        progress(20, f"running {request.scanner}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ScanError(f"timed out after {request.timeout:g} s before {request.scanner} ran")
        outcome = run_scan(
            adapter,
            Job(
                target=target,
                config=request.config,
                job_dir=job_dir,
                templates=templates,
                roots=roots,
            ),
            timeout=remaining,
            cancel=cancel,
        )
        progress(80, f"{request.scanner} found {len(outcome.report.findings)} finding(s)")
    finally:
        cleanup(target)
        shutil.rmtree(job_dir, ignore_errors=True)
    finish(outcome.report, target.asset, request.scan_id, started, outcome.duration_ms)
    return outcome


def finish(
    report: Report,
    asset: ReportTarget | None,
    scan_id: str,
    started: datetime,
    duration_ms: int | None = None,
) -> Report:
    """Tie a report to the scan's asset and session."""
    attach_asset(report, asset)
    report.scan_id = scan_id or report.scan_id
    report.started_at = report.started_at or started
    if duration_ms is not None:
        report.finished_at = report.finished_at or started + timedelta(milliseconds=duration_ms)
    return report


def attach_asset(report: Report, asset: ReportTarget | None) -> None:
    """The scan's asset is the report's target: the server files the findings under it
    and links the session to it. A report that already names several assets (a SARIF
    log of several repositories) keeps them."""
    if asset is None or not asset.identifier:
        return
    if not report.targets:
        report.targets = [asset]
    elif len(report.targets) == 1:
        report.targets[0] = asset


def write_templates(templates: list[dict[str, Any]], kind: str, job_dir: Path) -> list[Path]:
    """The scan's custom templates for this tool, checked against their sha256 and
    written into the job directory."""
    written = []
    for index, template in enumerate(templates):
        if not isinstance(template, dict) or template.get("template_type") != kind or not kind:
            continue
        name = str(template.get("name") or template.get("id") or f"template-{index}")
        try:
            content = base64.b64decode(str(template.get("content") or ""), validate=True)
        except ValueError as exc:
            raise ScanError(f"custom template {name!r} is not base64: {exc}") from exc
        if len(content) > MAX_TEMPLATE_BYTES:
            raise ScanError(f"custom template {name!r} is larger than 1 MB")
        expected = str(template.get("content_hash") or "").lower()
        if expected and hashlib.sha256(content).hexdigest() != expected:
            raise ScanError(f"custom template {name!r} does not match its content_hash")
        folder = job_dir / "templates"
        folder.mkdir(parents=True, exist_ok=True)
        stem = _SAFE_NAME.sub("-", name).strip(".-") or f"template-{index}"
        path = folder / (stem if stem.endswith((".yml", ".yaml", ".toml")) else f"{stem}.yaml")
        path.write_bytes(content)
        written.append(path)
    return written
