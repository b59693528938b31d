"""trivy: dependencies, secrets and misconfigurations of a directory (`fs`), IaC files
(`config`) or a container image (`image`).

The mode comes from `config.mode`, else the scanner's name (`trivy-fs`, `trivy-config`,
`trivy-image`), else the target (an image is scanned as an image, a path as `fs`).
`--exit-code 0` makes findings exit 0, so any other exit is a failure; that matters
because trivy without its vulnerability database (offline, first run) can still print
a report with no vulnerabilities in it. Its "failed to download" messages fail the scan
even when the exit code says otherwise.
"""

from __future__ import annotations

import re

from agents.runtime.adapters.base import Adapter, Job, ScanError
from agents.runtime.process import ProcessResult
from agents.runtime.targets import GIT, IMAGE, PATH

MODES = ("fs", "config", "image")
_DB_TROUBLE = re.compile(
    r"(failed to download|DB error|db update error|unable to initialize|failed to init)", re.I
)


class TrivyAdapter(Adapter):
    name = "trivy"
    executable = "trivy"
    report_format = "trivy"
    target_kinds = frozenset({PATH, GIT, IMAGE})

    def mode(self, job: Job) -> str:
        mode = str(job.config.get("mode") or "")
        if not mode and self.tool_name.startswith("trivy-"):
            mode = self.tool_name.removeprefix("trivy-")
        if not mode:
            mode = "image" if job.target.kind == IMAGE else "fs"
        if mode not in MODES:
            raise ScanError(f"trivy mode {mode!r} is not one of {', '.join(MODES)}")
        if (mode == "image") != (job.target.kind == IMAGE):
            raise ScanError(
                f"trivy {mode} cannot scan a {job.target.kind} target ({job.target.value})"
            )
        return mode

    def command(self, job: Job) -> list[str]:
        mode = self.mode(job)
        config = job.config
        argv = [
            self.path,
            mode,
            "--format",
            "json",
            "--output",
            str(job.output_file),
            "--exit-code",
            "0",
            "--quiet",
        ]
        if mode == "fs" and (scanners := _strings(config.get("scanners"))):
            argv += ["--scanners", ",".join(scanners)]
        if severity := _strings(config.get("severity")):
            argv += ["--severity", ",".join(s.upper() for s in severity)]
        if mode != "config":
            if config.get("skip_db_update"):
                argv.append("--skip-db-update")
            if config.get("offline"):
                argv.append("--offline-scan")
            if config.get("ignore_unfixed"):
                argv.append("--ignore-unfixed")
            if config.get("list_all_packages"):
                argv.append("--list-all-pkgs")
        return [*argv, job.target.value if mode == "image" else "."]

    def cwd(self, job: Job):
        return job.target.local_path if job.target.kind != IMAGE else job.job_dir

    def check(self, job: Job, result: ProcessResult, raw: bytes) -> None:
        trouble = _DB_TROUBLE.search(result.stderr_tail)
        if trouble:
            line = next(
                (ln for ln in result.stderr_tail.splitlines() if trouble.group(0) in ln),
                trouble.group(0),
            )
            raise ScanError(f"trivy could not use its vulnerability database: {line.strip()}")
        if not raw.strip():
            raise ScanError(f"trivy wrote no report: {result.stderr_tail[-1000:]}")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
