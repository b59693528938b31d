"""The table `run` prints, and the quality gate it applies.

The gate counts findings at or above `--fail-on` that the tool did not mark suppressed
(a SARIF suppression, an audited false positive): those were already judged by a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from findings.rules.severity import Severity
from protocol.report import Report

GATE_LEVELS = ("critical", "high", "medium", "low", "info", "none")
_COLUMNS = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO)


@dataclass(slots=True)
class ToolRun:
    tool: str
    report: Report | None = None
    error: str = ""
    delivery: str = "not uploaded"

    def counts(self) -> dict[Severity, int]:
        counts = dict.fromkeys(_COLUMNS, 0)
        for finding in self.report.findings if self.report else []:
            if not finding.suppressed:
                counts[finding.severity] += 1
        return counts


def gate_failures(runs: list[ToolRun], fail_on: str) -> int:
    """How many findings reach the threshold (`none` never fails)."""
    if fail_on == "none":
        return 0
    threshold = Severity(fail_on).rank
    return sum(n for run in runs for s, n in run.counts().items() if s.rank >= threshold)


def print_summary(runs: list[ToolRun], fail_on: str, out: TextIO) -> None:
    header = ("TOOL", "STATUS", *(s.value.upper() for s in _COLUMNS), "TOTAL")
    rows = []
    for run in runs:
        if run.error:
            rows.append((run.tool, "FAILED", *("-" for _ in _COLUMNS), "-"))
            continue
        counts = run.counts()
        rows.append(
            (run.tool, "ok", *(str(counts[s]) for s in _COLUMNS), str(sum(counts.values())))
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)
    print(file=out)
    for run in runs:
        if run.error:
            print(f"{run.tool}: FAILED: {run.error}", file=out)
        else:
            print(f"{run.tool}: {run.delivery}", file=out)
    failures = gate_failures(runs, fail_on)
    if any(run.error for run in runs):
        verdict = "ERROR (a tool failed, so the code was not fully checked)"
    elif failures:
        verdict = f"FAILED: {failures} finding(s) at or above {fail_on}"
    else:
        verdict = f"passed (nothing at or above {fail_on})"
    print(f"quality gate: {verdict}", file=out)
