"""semgrep, with local rules only.

The registry (`--config auto`, `p/…`, `r/…`) needs semgrep.dev: offline, semgrep exits 2
at once with metrics off and hangs for a minute and a half with them on. So metrics are
always off, registry names are refused with a reason, and a scan that names no rules
uses the small rule set shipped in `agents/runtime/rules/semgrep/`.

Semgrep prefixes each rule id with the dotted directory of its rule file
(`work.main.agents.runtime.rules.semgrep.python-eval-of-input`); that prefix is removed,
or the same finding would get a new fingerprint on every machine.
"""

from __future__ import annotations

import json
from pathlib import Path

from agents.runtime.adapters.base import Adapter, Job, ScanError
from agents.runtime.process import ProcessResult
from protocol.report import Report

SHIPPED_RULES = Path(__file__).resolve().parent.parent / "rules" / "semgrep"
_REGISTRY_PREFIXES = ("p/", "r/", "s/", "auto", "http://", "https://", "registry")


def bundled_rule_sets() -> dict[str, Path]:
    """The rule sets shipped with the agent, by name (`python` for `python.yml`). The
    server lets any member choose one of these names (scans/scanner_config.py)."""
    if not SHIPPED_RULES.is_dir():
        return {}
    return {
        path.stem: path.resolve()
        for path in sorted(SHIPPED_RULES.iterdir())
        if path.suffix in (".yml", ".yaml") and path.is_file()
    }


class SemgrepAdapter(Adapter):
    name = "semgrep"
    executable = "semgrep"
    report_format = "semgrep"
    # Semgrep exits 1 only with --error, but a findings exit is no failure either way.
    ok_exit_codes = frozenset({0, 1})
    template_type = "semgrep"
    # Offline, even `semgrep --version` waits ~97 s for semgrep.dev without these.
    version_args = ("--version", "--disable-version-check")
    extra_env = {"SEMGREP_SEND_METRICS": "off", "SEMGREP_ENABLE_VERSION_CHECK": "0"}

    def rule_paths(self, job: Job) -> list[Path]:
        """The rules to run: a rule set the agent ships, named (`python`), or rule
        files and folders inside the work roots or the shipped rules; relative ones are
        looked up in the scanned directory first (e.g. `.semgrep/`)."""
        wanted = job.config.get("rules") or job.config.get("config") or []
        if isinstance(wanted, str):
            wanted = [wanted]
        if not isinstance(wanted, list):
            raise ScanError(f"semgrep rules must be paths or rule set names, not {wanted!r}")
        bundled = bundled_rule_sets()
        paths = []
        for item in wanted:
            if not isinstance(item, str) or not item.strip():
                raise ScanError(f"semgrep rules must be paths, not {item!r}")
            if item in bundled:
                paths.append(bundled[item])
                continue
            if item.startswith(_REGISTRY_PREFIXES) or "://" in item:
                raise ScanError(
                    f"semgrep rules {item!r} come from the semgrep registry, which this agent "
                    "does not use (it runs offline); name local rule files or a rules directory"
                )
            path = Path(item).expanduser()
            if not path.is_absolute() and job.target.local_path is not None:
                inside = job.target.local_path / path
                path = inside if job.confine(inside, "semgrep rules", named=item).exists() else path
            path = job.confine(path, "semgrep rules", also=(SHIPPED_RULES,), named=item)
            if not path.exists():
                raise ScanError(f"semgrep rules {item!r} do not exist on this agent")
            paths.append(path)
        paths += job.templates
        if not paths and not SHIPPED_RULES.is_dir():
            # An install that left out the package data must say so, not scan nothing.
            raise ScanError(f"the agent's own semgrep rules are missing ({SHIPPED_RULES})")
        return paths or [SHIPPED_RULES]

    def command(self, job: Job) -> list[str]:
        argv = [
            self.path,
            "scan",
            "--json",
            "--metrics=off",
            "--disable-version-check",
            "--quiet",
            "--output",
            str(job.output_file),
        ]
        for rules in self.rule_paths(job):
            argv += ["--config", str(rules)]
        for pattern in _strings(job.config.get("exclude")):
            argv += ["--exclude", pattern]
        return [*argv, "."]

    def check(self, job: Job, result: ProcessResult, raw: bytes) -> None:
        if not raw.strip():
            raise ScanError(f"semgrep wrote no report: {result.stderr_tail[-1000:]}")
        try:
            document = json.loads(raw)
        except ValueError:
            return  # the parser names the problem
        fatal = [
            e
            for e in document.get("errors") or []
            if isinstance(e, dict)
            and str(e.get("level", "")).lower() in ("error", "fatal")
            and e.get("type") not in _PER_FILE_ERRORS
        ]
        if fatal and not document.get("results"):
            first = fatal[0]
            raise ScanError(f"semgrep could not run its rules: {first.get('message', first)}")

    def parse(self, job: Job, raw: bytes) -> Report:
        report = super().parse(job, raw)
        prefixes = _rule_prefixes(self.rule_paths(job))
        for finding in report.findings:
            for prefix in prefixes:
                if finding.rule_id.startswith(prefix):
                    finding.rule_id = finding.rule_id[len(prefix) :]
                    break
        return report


# A file semgrep could not parse is a warning in the report, not a failed scan.
_PER_FILE_ERRORS = {
    "Syntax error",
    "Lexical error",
    "Partial parsing",
    "Timeout",
    "Other syntax error",
}


def _rule_prefixes(paths: list[Path]) -> list[str]:
    """The dotted directories semgrep may have put before rule ids, longest first."""
    dirs: set[Path] = set()
    for path in paths:
        if path.is_dir():
            dirs |= {p.parent for p in path.rglob("*.y*ml")}
        else:
            dirs.add(path.parent)
    # Rule paths are passed absolute, so the prefix is the whole directory path.
    prefixes = {".".join(p for p in d.parts if p not in ("/", "")) + "." for d in dirs}
    return sorted(prefixes, key=len, reverse=True)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
