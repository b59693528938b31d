"""gitleaks 8: secrets in a directory or a repository's history.

gitleaks exits 1 both when it finds leaks and when it dies (a fatal log exits 1 too), so
the leak exit code is moved to 42 with `--exit-code`: 0 and 42 are a scan that ran,
anything else is a failure. `--redact` keeps secrets out of the report file.
"""

from __future__ import annotations

from pathlib import Path

from agents.runtime.adapters.base import Adapter, Job, ScanError
from agents.runtime.process import ProcessResult

LEAKS_FOUND = 42


class GitleaksAdapter(Adapter):
    name = "gitleaks"
    executable = "gitleaks"
    report_format = "gitleaks"
    ok_exit_codes = frozenset({0, LEAKS_FOUND})
    version_args = ("version",)
    template_type = "gitleaks"

    def command(self, job: Job) -> list[str]:
        argv = [
            self.path,
            "detect",
            "--source",
            ".",
            "--report-format",
            "json",
            "--report-path",
            str(job.output_file),
            "--exit-code",
            str(LEAKS_FOUND),
            "--redact",
            "--no-banner",
        ]
        history = bool(job.config.get("git_history", True))
        if not history or not (job.scan_dir / ".git").exists():
            argv.append("--no-git")
        if job.templates:
            argv += ["--config", str(job.templates[0])]
        elif isinstance(job.config.get("config_file"), str):
            # Relative to the scanned directory, where gitleaks runs.
            named = job.config["config_file"]
            config_file = job.confine(
                job.scan_dir / Path(named).expanduser(), "gitleaks config", named=named
            )
            argv += ["--config", str(config_file)]
        return argv

    def check(self, job: Job, result: ProcessResult, raw: bytes) -> None:
        if not job.output_file.exists():
            raise ScanError(f"gitleaks wrote no report: {result.stderr_tail[-1000:]}")
