"""detect-secrets (Yelp): a baseline JSON on stdout, never the secrets themselves.

`-n` keeps it offline (no verification calls). checkov installs `bc-detect-secrets`, a
fork that replaces this tool's files in the same environment; the tools listing says so
when a checkov sits beside it, because the fork's plugins and versions differ.
"""

from __future__ import annotations

import os
from pathlib import Path

from agents.runtime.adapters.base import Adapter, Job, ScanError
from agents.runtime.process import ProcessResult


class DetectSecretsAdapter(Adapter):
    name = "detect-secrets"
    executable = "detect-secrets"
    report_format = "detect-secrets"

    def command(self, job: Job) -> list[str]:
        argv = [self.path, "scan", "--all-files", "-n"]
        for pattern in _strings(job.config.get("exclude_files")):
            argv += ["--exclude-files", pattern]
        for pattern in _strings(job.config.get("exclude_lines")):
            argv += ["--exclude-lines", pattern]
        return [*argv, "."]

    def check(self, job: Job, result: ProcessResult, raw: bytes) -> None:
        if not raw.strip():
            raise ScanError(f"detect-secrets wrote no baseline: {result.stderr_tail[-1000:]}")

    def note(self) -> str:
        beside = Path(self.path).resolve().parent / "checkov"
        if os.access(beside, os.X_OK):
            return "checkov is installed beside it: this may be checkov's bc-detect-secrets fork"
        return ""


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
