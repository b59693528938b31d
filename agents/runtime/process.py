"""Running a scanner: its own process group, a deadline, and a way to stop it early.

Each tool runs in a new session (`start_new_session=True`) so that its whole tree
(semgrep forks semgrep-core, checkov forks workers) is one process group: a timeout or
a cancel kills the group, not just the parent, which would leave children scanning on.
Output goes to files rather than pipes: a tool that writes megabytes to stderr cannot
fill a pipe and deadlock, and a large report is never held twice in memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# A tool that ignores SIGTERM this long after a kill request gets SIGKILL.
KILL_GRACE_SECONDS = 5.0
_STDERR_TAIL = 4000
_POLL_SECONDS = 0.1


@dataclass(slots=True)
class ProcessResult:
    argv: list[str]
    exit_code: int
    stdout_path: Path
    stderr_tail: str
    duration_ms: int
    timed_out: bool = False
    cancelled: bool = False

    def stdout(self) -> bytes:
        return self.stdout_path.read_bytes() if self.stdout_path.exists() else b""


def run_process(
    argv: Sequence[str],
    *,
    timeout: float,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    cancel: threading.Event | None = None,
    output_dir: str | os.PathLike | None = None,
) -> ProcessResult:
    """Run `argv` until it exits, `timeout` seconds pass or `cancel` is set.

    Raises FileNotFoundError / PermissionError when the program cannot be started.
    """
    out_dir = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix="rdv-proc-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    stdout_path = out_dir / "stdout"
    stderr_path = out_dir / "stderr"
    started = time.monotonic()
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        timed_out = cancelled = False
        deadline = started + timeout
        while True:
            try:
                process.wait(timeout=_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if cancel is not None and cancel.is_set():
                cancelled = True
            elif time.monotonic() >= deadline:
                timed_out = True
            if cancelled or timed_out:
                kill_group(process)
                break
    return ProcessResult(
        argv=list(argv),
        exit_code=process.returncode,
        stdout_path=stdout_path,
        stderr_tail=_tail(stderr_path),
        duration_ms=int((time.monotonic() - started) * 1000),
        timed_out=timed_out,
        cancelled=cancelled,
    )


def kill_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after a grace."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_GRACE_SECONDS)
    # Children may outlive a parent that obeyed SIGTERM; the group goes either way.
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _STDERR_TAIL))
            return handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
