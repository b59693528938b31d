"""Quality gates: pass or fail a scan's findings against a profile's limits.

Django-free on purpose: the API and whatever records a scan session's result apply
the same rules, with plain dicts in and out. A limit of -1 means unlimited; `fail_on_critical`
and `fail_on_high` are shorthands for a limit of 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

UNLIMITED = -1
METRICS = ("critical", "high", "medium", "total")
DISABLED_REASON = "quality gate disabled"


class QualityGateError(ValueError):
    """A bad quality gate; `field` names the offending key."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True)
class QualityGate:
    enabled: bool = False
    fail_on_critical: bool = False
    fail_on_high: bool = False
    max_critical: int = UNLIMITED
    max_high: int = UNLIMITED
    max_medium: int = UNLIMITED
    max_total: int = UNLIMITED
    new_findings_only: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> QualityGate:
        """A gate from its JSON form; keys left out take their defaults.

        Strict on types: JSON `true` is a boolean and `1` an integer, never the other way
        round, so a typo cannot silently turn a limit into a switch.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise QualityGateError("quality_gate", "must be an object.")
        # Annotations are strings here (postponed evaluation): go by the default's type.
        switches = {f.name: isinstance(f.default, bool) for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in switches:
                raise QualityGateError(str(key), "unknown field.")
            if switches[key]:
                if not isinstance(value, bool):
                    raise QualityGateError(key, "must be true or false.")
            elif isinstance(value, bool) or not isinstance(value, int) or value < UNLIMITED:
                raise QualityGateError(key, "must be an integer ≥ -1 (-1 means unlimited).")
            values[key] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def limits(self) -> dict[str, int]:
        """The effective limit of each metric (-1: unlimited)."""
        return {
            "critical": 0 if self.fail_on_critical else self.max_critical,
            "high": 0 if self.fail_on_high else self.max_high,
            "medium": self.max_medium,
            "total": self.max_total,
        }


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reason: str
    breaches: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason,
            "breaches": [dict(b) for b in self.breaches],
        }


def evaluate(
    gate: QualityGate,
    *,
    by_severity: Mapping[str, int],
    new_by_severity: Mapping[str, int] | None = None,
) -> GateResult:
    """Check finding counts per severity against the gate.

    With `new_findings_only`, only `new_by_severity` counts when the caller has it; a
    caller without new counts (no baseline yet) is judged on all findings. `total` is
    the sum over every severity given, low and info included.
    """
    if not gate.enabled:
        return GateResult(passed=True, reason=DISABLED_REASON)
    only_new = gate.new_findings_only and new_by_severity is not None
    source = "new_by_severity" if only_new else "by_severity"
    counts = _counts(new_by_severity if only_new else by_severity, source)
    actual = {
        "critical": counts.get("critical", 0),
        "high": counts.get("high", 0),
        "medium": counts.get("medium", 0),
        "total": sum(counts.values()),
    }
    breaches = [
        {"metric": metric, "limit": limit, "actual": actual[metric]}
        for metric, limit in gate.limits().items()
        if limit != UNLIMITED and actual[metric] > limit
    ]
    scope = " (new findings only)" if only_new else ""
    if not breaches:
        return GateResult(passed=True, reason=f"quality gate passed{scope}: within every limit")
    exceeded = ", ".join(
        f"{b['actual']} {'in total' if b['metric'] == 'total' else b['metric']} "
        f"(limit {b['limit']})"
        for b in breaches
    )
    return GateResult(
        passed=False, reason=f"quality gate failed{scope}: {exceeded}", breaches=breaches
    )


def _counts(by_severity: Mapping[str, int] | None, source: str) -> dict[str, int]:
    if not isinstance(by_severity, Mapping):
        raise QualityGateError(source, "must map severities to counts.")
    counts: dict[str, int] = {}
    for key, value in by_severity.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise QualityGateError(f"{source}.{key}", "must be an integer ≥ 0.")
        severity = str(key).lower()
        counts[severity] = counts.get(severity, 0) + value
    return counts
