"""checkov: infrastructure-as-code checks. `--skip-download` keeps it offline (it would
fetch guidelines and policies from Bridgecrew otherwise); exit 1 means failed checks."""

from __future__ import annotations

import os

from agents.runtime.adapters.base import Adapter, Job, ScanError
from agents.runtime.process import ProcessResult


class CheckovAdapter(Adapter):
    name = "checkov"
    executable = "checkov"
    report_format = "checkov"
    ok_exit_codes = frozenset({0, 1})

    def command(self, job: Job) -> list[str]:
        argv = [self.path, "-d", ".", "-o", "json", "--skip-download", "--quiet"]
        for key, flag in (("framework", "--framework"), ("skip_check", "--skip-check")):
            if values := _strings(job.config.get(key)):
                argv += [flag, ",".join(values)]
        return argv

    def env(self, job: Job) -> dict[str, str]:
        # A Bridgecrew key in the environment would make checkov call home.
        env = {k: v for k, v in os.environ.items() if k not in ("BC_API_KEY", "PRISMA_API_URL")}
        return {**env, "CHECKOV_NO_OUTPUT_COLORS": "1"}

    def check(self, job: Job, result: ProcessResult, raw: bytes) -> None:
        if not raw.strip():
            raise ScanError(f"checkov wrote no report: {result.stderr_tail[-1000:]}")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
