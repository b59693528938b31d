"""What every scanner adapter shares: finding the tool, running it, reading its output.

An adapter builds a command line; `run_scan` runs it in its own process group with a
deadline and a cancel flag, then judges the result. The judgement is strict because a
scanner that could not do its job often still writes a valid, empty report: an exit
code outside the adapter's list, a timeout, a missing or unreadable output file, or a
tool-specific sign of trouble (`check`) fails the scan. A report is never "clean" by
default.

Tools are found on PATH or at a configured path and asked their version with
`--version`; they are never imported, because several of them break each other when
installed into one Python environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from agents.runtime.confine import OutsideWorkRoots, WorkRoots, real
from agents.runtime.process import ProcessResult, run_process
from agents.runtime.targets import GIT, PATH, Target
from ingest.parsers.detect import parse_report
from protocol.capabilities import tool_capabilities
from protocol.report import Report, ReportError

_VERSION = re.compile(r"v?(\d+\.\d+(?:\.\d+)?(?:[-.+][0-9A-Za-z.]+)?)")
_VERSION_TIMEOUT = 30
# (path, mtime) → version: asking costs a process start, and tools rarely change.
_VERSIONS: dict[tuple[str, float], str] = {}


class ScanError(Exception):
    """The scan failed; the message is what the server shows the user."""


class ScanCancelled(ScanError):
    pass


class ToolMissing(ScanError):
    pass


@dataclass(slots=True)
class ToolInfo:
    name: str
    path: str
    version: str
    capabilities: tuple[str, ...]
    target_kinds: tuple[str, ...]
    note: str = ""


@dataclass(slots=True)
class Job:
    """One run of one tool: where it looks, how it is configured, where it writes."""

    target: Target
    config: dict
    job_dir: Path
    templates: list[Path] = field(default_factory=list)
    # Where the files a command names may be (agents/runtime/confine.py); None only
    # when an adapter is driven directly, not through `execute_scan`.
    roots: WorkRoots | None = None

    def confine(
        self, path: str | Path, what: str, *, also: tuple[Path, ...] = (), named: str = ""
    ) -> Path:
        """A file the command names (spelled `named`), resolved; OutsideWorkRoots when
        it is outside the work roots (and `also`)."""
        if self.roots is None:
            return real(path)
        return self.roots.check(path, what, also=also, named=named)

    @property
    def output_file(self) -> Path:
        return self.job_dir / "report.out"

    @property
    def scan_dir(self) -> Path:
        assert self.target.local_path is not None
        return self.target.local_path


@dataclass(slots=True)
class ScanOutcome:
    report: Report
    exit_code: int
    duration_ms: int
    argv: list[str]


class Adapter:
    name: ClassVar[str]
    executable: ClassVar[str]
    report_format: ClassVar[str]
    target_kinds: ClassVar[frozenset[str]] = frozenset({PATH, GIT})
    # Exit codes of a scan that did its job (some tools say "findings found" with 1).
    ok_exit_codes: ClassVar[frozenset[int]] = frozenset({0})
    version_args: ClassVar[tuple[str, ...]] = ("--version",)
    # Extra environment for every run of the tool, the version question included.
    extra_env: ClassVar[dict[str, str]] = {}
    # Which custom template type from the scan payload this tool reads (semgrep, nuclei…).
    template_type: ClassVar[str] = ""

    def __init__(self, path: str, *, tool_name: str = "") -> None:
        self.path = path
        self.tool_name = tool_name or self.name

    # ------------------------------------------------------------ finding the tool

    @classmethod
    def locate(cls, tool_paths: dict[str, str] | None = None) -> str | None:
        configured = (tool_paths or {}).get(cls.name)
        if configured:
            return configured if os.access(configured, os.X_OK) else None
        found = shutil.which(cls.executable)
        if found is None:
            # A tool installed into the agent's own environment (`pip install
            # rediverio[scanners]`) counts even when that environment is not on PATH.
            beside = Path(sys.executable).parent / cls.executable
            found = str(beside) if os.access(beside, os.X_OK) else None
        return found

    def version(self) -> str:
        key = (self.path, _mtime(self.path))
        if key not in _VERSIONS:
            _VERSIONS[key] = self._ask_version()
        return _VERSIONS[key]

    def _ask_version(self) -> str:
        try:
            done = subprocess.run(
                [self.path, *self.version_args],
                env={**os.environ, **self.extra_env},
                capture_output=True,
                timeout=_VERSION_TIMEOUT,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        text = (done.stdout + b"\n" + done.stderr).decode("utf-8", "replace")
        match = _VERSION.search(text)
        return match.group(1) if match else ""

    def info(self) -> ToolInfo:
        return ToolInfo(
            name=self.tool_name,
            path=self.path,
            version=self.version(),
            capabilities=self.capabilities(),
            target_kinds=tuple(sorted(self.target_kinds)),
            note=self.note(),
        )

    def capabilities(self) -> tuple[str, ...]:
        """What having this tool lets the agent do: read from the table the server also
        reads to decide what a scan needs (protocol/capabilities.py), so an agent
        always advertises the capability of every tool it advertises."""
        return tool_capabilities(self.tool_name)

    def note(self) -> str:
        return ""

    # ------------------------------------------------------------ hooks

    def command(self, job: Job) -> list[str]:
        raise NotImplementedError

    def cwd(self, job: Job) -> Path | None:
        # Running inside the scanned directory makes the tools report relative paths,
        # which keeps fingerprints equal across machines and checkouts.
        return job.target.local_path

    def env(self, job: Job) -> dict[str, str]:
        return {**os.environ, **self.extra_env}

    def read_output(self, job: Job, result: ProcessResult) -> bytes:
        if job.output_file.exists():
            return job.output_file.read_bytes()
        return result.stdout()

    def check(self, job: Job, result: ProcessResult, raw: bytes) -> None:
        """Raise ScanError when the tool says it could not do its job."""

    def parse(self, job: Job, raw: bytes) -> Report:
        return parse_report(raw, self.report_format)


def run_scan(
    adapter: Adapter,
    job: Job,
    *,
    timeout: float,
    cancel: threading.Event | None = None,
) -> ScanOutcome:
    target = job.target
    if target.kind not in adapter.target_kinds:
        kinds = ", ".join(sorted(adapter.target_kinds))
        raise ScanError(
            f"{adapter.tool_name} cannot scan a {target.kind} target ({target.value}); "
            f"it scans: {kinds}"
        )
    job.job_dir.mkdir(parents=True, exist_ok=True)
    try:
        argv = adapter.command(job)
    except OutsideWorkRoots as exc:
        raise ScanError(str(exc)) from exc
    try:
        result = run_process(
            argv,
            timeout=timeout,
            cwd=adapter.cwd(job),
            env=adapter.env(job),
            cancel=cancel,
            output_dir=job.job_dir,
        )
    except OSError as exc:
        raise ToolMissing(f"{adapter.tool_name} could not be started ({argv[0]}): {exc}") from exc
    if result.cancelled:
        raise ScanCancelled(f"{adapter.tool_name} was cancelled and its processes killed")
    if result.timed_out:
        raise ScanError(
            f"{adapter.tool_name} timed out after {timeout:.0f} s and was killed"
            + (f"; last output: {result.stderr_tail[-500:]}" if result.stderr_tail else "")
        )
    if result.exit_code not in adapter.ok_exit_codes:
        raise ScanError(
            f"{adapter.tool_name} failed with exit code {result.exit_code}"
            + (f": {result.stderr_tail[-1500:]}" if result.stderr_tail else "")
        )
    raw = adapter.read_output(job, result)
    adapter.check(job, result, raw)
    try:
        report = adapter.parse(job, raw)
    except ReportError as exc:
        raise ScanError(f"could not read {adapter.tool_name}'s output: {exc}") from exc
    if adapter.report_format != "sarif":
        report.tool_name = adapter.tool_name
        # Some reports (bandit's) do not say which version wrote them.
        report.tool_version = report.tool_version or adapter.version()
    _relative_paths(report, target.local_path)
    return ScanOutcome(
        report=report, exit_code=result.exit_code, duration_ms=result.duration_ms, argv=argv
    )


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _relative_paths(report: Report, root: Path | None) -> None:
    """`./app.py` and `/tmp/checkout/app.py` are both `app.py`: the same file must give
    the same fingerprint whichever way a tool spells its path."""
    prefixes = [str(root) + "/"] if root is not None else []
    for finding in report.findings:
        path = finding.file_path
        for prefix in prefixes:
            if path.startswith(prefix):
                path = path[len(prefix) :]
        while path.startswith("./"):
            path = path[2:]
        finding.file_path = path
