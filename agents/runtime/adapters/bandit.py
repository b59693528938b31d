"""bandit: Python SAST. Exit 1 means "issues found", not a failure."""

from __future__ import annotations

from agents.runtime.adapters.base import Adapter, Job, ScanError
from agents.runtime.process import ProcessResult

# Bandit's own default excludes, which `-x` replaces, plus environments that are not the
# project's code. `-x` globs match paths as bandit spells them (`./.venv/lib/x.py`).
_DEFAULT_EXCLUDES = tuple(
    f"*/{name}/*"
    for name in (
        ".svn",
        "CVS",
        ".bzr",
        ".hg",
        ".git",
        "__pycache__",
        ".tox",
        ".eggs",
        ".venv",
        "venv",
        "node_modules",
    )
)
_LEVELS = ("all", "low", "medium", "high")


class BanditAdapter(Adapter):
    name = "bandit"
    executable = "bandit"
    report_format = "bandit"
    ok_exit_codes = frozenset({0, 1})

    def command(self, job: Job) -> list[str]:
        config = job.config
        excludes = [*_DEFAULT_EXCLUDES, *_strings(config.get("exclude"))]
        argv = [self.path, "-r", ".", "-f", "json", "-o", str(job.output_file), "-q"]
        argv += ["-x", ",".join(excludes)]
        if skip := _strings(config.get("skip")):
            argv += ["-s", ",".join(skip)]
        if tests := _strings(config.get("tests")):
            argv += ["-t", ",".join(tests)]
        for key, flag in (("severity", "--severity-level"), ("confidence", "--confidence-level")):
            level = str(config.get(key) or "").lower()
            if level:
                if level not in _LEVELS:
                    raise ScanError(f"bandit {key} must be one of {', '.join(_LEVELS)}")
                argv += [flag, level]
        return argv

    def check(self, job: Job, result: ProcessResult, raw: bytes) -> None:
        if not raw.strip():
            raise ScanError(f"bandit wrote no report: {result.stderr_tail[-1000:]}")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
