"""The worker's answers to commands other than `scan`: a health report, a settings
change, and `collect` (import a report that something else wrote)."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.runtime import USER_AGENT, VERSION
from agents.runtime.adapters import ScanError
from agents.runtime.confine import OutsideWorkRoots, WorkRoots
from agents.runtime.jobs import finish
from agents.runtime.metrics import disk_free_bytes, memory_percent
from ingest.parsers.detect import parse_report
from protocol.commands import CollectCommand
from protocol.report import Report, ReportError, ReportTarget

if TYPE_CHECKING:
    from agents.runtime.worker import Worker

# The server takes at most this much per report; a bigger one would only be refused.
MAX_COLLECT_BYTES = 200 * 1024 * 1024
_LOW_DISK = 1024**3


def health_report(worker: Worker) -> dict[str, Any]:
    settings = worker.settings
    tools = worker.refresh_tools()
    spooled = len(worker.delivery.spool.entries()) if worker.delivery.spool else 0
    free = disk_free_bytes(settings.work_dir)
    problems = []
    if not tools:
        problems.append("no scanner is installed")
    if spooled:
        problems.append(f"{spooled} report(s) or call(s) wait in the spool")
    if free < _LOW_DISK:
        problems.append(f"only {free // (1024 * 1024)} MB free in the work directory")
    return {
        "healthy": not problems,
        "problems": problems,
        "version": VERSION,
        "hostname": socket.gethostname(),
        "agent_type": settings.agent_type,
        "uptime_seconds": int(time.monotonic() - worker.started_at),
        "tools": [
            {
                "name": t.name,
                "version": t.version,
                "path": t.path,
                "capabilities": list(t.capabilities),
                **({"note": t.note} if t.note else {}),
            }
            for t in tools
        ],
        "active_jobs": worker.active_jobs(),
        "queued_jobs": worker.queued_jobs(),
        "max_jobs": settings.max_jobs,
        "poll_interval": settings.poll_interval,
        "labels": dict(settings.labels),
        "cpu_percent": worker.cpu.percent(),
        "memory_percent": memory_percent(),
        "disk_free_bytes": free,
        "spool_pending": spooled,
        "total_scans": worker.total_scans,
        "errors": worker.errors,
    }


def collect_report(command: CollectCommand, roots: WorkRoots | None = None) -> Report:
    """The report a `collect` command names: `source_config.path` on this machine (inside
    the work roots, when given) or `source_config.url` (http or https), in `format` or a
    detected one."""
    source = command.source_config
    report_format = source.get("format") or None
    where = source.get("path") or source.get("url")
    if source.get("path"):
        path = Path(str(source["path"])).expanduser()
        if roots is not None:
            try:
                path = roots.check(path, "the report to collect")
            except OutsideWorkRoots as exc:
                raise ScanError(str(exc)) from exc
        raw = _read_file(path)
    elif source.get("url"):
        raw = _download(str(source["url"]), source.get("headers"))
    else:
        raise ScanError("a collect command needs source_config.path or source_config.url")
    try:
        report = parse_report(raw, report_format)
    except ReportError as exc:
        raise ScanError(f"could not read the report at {where}: {exc}") from exc
    asset = source.get("asset") or command.asset
    target = (
        ReportTarget(identifier=str(asset), type=str(source.get("asset_type") or ""))
        if asset
        else None
    )
    return finish(report, target, command.scan_id, datetime.now(UTC))


def _read_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_COLLECT_BYTES:
            raise ScanError(f"{path} is larger than {MAX_COLLECT_BYTES // 2**20} MB")
        return path.read_bytes()
    except OSError as exc:
        raise ScanError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _download(url: str, headers: Any) -> bytes:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ScanError(f"only http and https URLs are collected, not {url!r}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if isinstance(headers, dict):
        for key, value in headers.items():
            request.add_header(str(key), str(value))
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read(MAX_COLLECT_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise ScanError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from exc
    if len(raw) > MAX_COLLECT_BYTES:
        raise ScanError(f"{url} is larger than {MAX_COLLECT_BYTES // 2**20} MB")
    return raw
