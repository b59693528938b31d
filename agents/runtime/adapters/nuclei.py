"""nuclei: templates run against a URL or host.

Only local templates are used (`config.templates` paths and the scan's custom
templates); with none, nuclei would try to download its template repository. A run that
loaded no template, or logged a fatal error, fails: an empty result from a scan that did
not run is not "no vulnerabilities".
"""

from __future__ import annotations

import re
from pathlib import Path

from agents.runtime.adapters.base import Adapter, Job, ScanError
from agents.runtime.process import ProcessResult
from agents.runtime.targets import URL

_FAILED = re.compile(
    r"(\[FTL\].*|no templates provided.*|could not (?:run|read|find) .*templates?.*)", re.I
)


class NucleiAdapter(Adapter):
    name = "nuclei"
    executable = "nuclei"
    report_format = "nuclei"
    target_kinds = frozenset({URL})
    version_args = ("-version",)
    template_type = "nuclei"

    def templates(self, job: Job) -> list[Path]:
        paths = []
        for item in _strings(job.config.get("templates")):
            path = job.confine(item, "nuclei templates")
            if not path.exists():
                raise ScanError(f"nuclei templates {item!r} do not exist on this agent")
            paths.append(path)
        return paths + job.templates

    def command(self, job: Job) -> list[str]:
        templates = self.templates(job)
        if not templates:
            raise ScanError(
                "nuclei needs local templates (config.templates or custom templates); this "
                "agent does not download the public template repository"
            )
        argv = [
            self.path,
            "-target",
            job.target.value,
            "-jsonl",
            "-output",
            str(job.output_file),
            "-silent",
            "-no-color",
            "-disable-update-check",
        ]
        for template in templates:
            argv += ["-t", str(template)]
        if severity := _strings(job.config.get("severity")):
            argv += ["-severity", ",".join(severity)]
        if rate := job.config.get("rate_limit"):
            argv += ["-rate-limit", str(int(rate))]
        return argv

    def cwd(self, job: Job):
        return job.job_dir

    def read_output(self, job: Job, result: ProcessResult) -> bytes:
        # No output file at all means no result line was written: a run with no match.
        return job.output_file.read_bytes() if job.output_file.exists() else b""

    def check(self, job: Job, result: ProcessResult, raw: bytes) -> None:
        failure = _FAILED.search(result.stderr_tail)
        if failure:
            raise ScanError(f"nuclei did not run: {failure.group(0).strip()[:500]}")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
