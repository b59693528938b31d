"""Severity levels and the mappings from scanner vocabularies onto them.

Pure Python: imported by the server and by the Django-free agent program.

Mirrors the reference SDK's severity words and its scanner parsers' mappings
(docs/wire-protocol.md). Where the SDK would answer "unknown", the general
``normalize_severity`` returns ``None`` so that callers can reject the value; the
tool-specific helpers always answer a level, as the SDK parsers do.
"""

from __future__ import annotations

import math
from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """4 for critical down to 0 for info; compare ranks, never the strings."""
        return _RANK[self]

    @property
    def score(self) -> float:
        """The SDK's ``Score()``: a representative CVSS-like number per level."""
        return _SCORE[self]


_RANK: dict[Severity, int] = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}

_SCORE: dict[Severity, float] = {
    Severity.CRITICAL: 10.0,
    Severity.HIGH: 7.5,
    Severity.MEDIUM: 5.0,
    Severity.LOW: 2.5,
    Severity.INFO: 0.0,
}

# severity.FromString in the SDK; keys are upper-case because the SDK upper-cases input.
_WORDS: dict[str, Severity] = {
    "CRITICAL": Severity.CRITICAL,
    "CRIT": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "ERROR": Severity.HIGH,
    "SEVERE": Severity.HIGH,
    "MEDIUM": Severity.MEDIUM,
    "MODERATE": Severity.MEDIUM,
    "WARNING": Severity.MEDIUM,
    "WARN": Severity.MEDIUM,
    "MED": Severity.MEDIUM,
    "LOW": Severity.LOW,
    "INFO": Severity.INFO,
    "INFORMATIONAL": Severity.INFO,
    "NOTE": Severity.INFO,
    "NONE": Severity.INFO,
}

# Gitleaks has no severity of its own; the SDK parser files every leak as high.
GITLEAKS_SEVERITY = Severity.HIGH


def _word(value: object) -> str:
    return value.strip().upper() if isinstance(value, str) else ""


def normalize_severity(value: str | None) -> Severity | None:
    """Map a tool's severity word onto a level, or ``None`` when the word is unknown."""
    return _WORDS.get(_word(value))


def severity_from_cvss(score: float) -> Severity:
    """CVSS v3 bands: >=9 critical, >=7 high, >=4 medium, >0 low, otherwise info."""
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise TypeError(f"CVSS score must be a number, not {type(score).__name__}")
    # Not math.isnan: it converts an int, and one beyond any float would overflow.
    if not 0 <= score <= 10:  # NaN included
        raise ValueError(f"CVSS score out of range 0-10: {score!r}")
    return _cvss_band(float(score))


def _cvss_band(score: float, *, codeql: bool = False) -> Severity:
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    # FromCVSS says "> 0" where the CodeQL parser says ">= 0.1": 0.05 differs, keep both.
    if (score >= 0.1) if codeql else (score > 0):
        return Severity.LOW
    return Severity.INFO


_SARIF_LEVELS: dict[str, Severity] = {
    "ERROR": Severity.HIGH,
    "WARNING": Severity.MEDIUM,
    "NOTE": Severity.LOW,
    "NONE": Severity.INFO,
}


def severity_from_sarif_level(level: str | None) -> Severity:
    """SARIF ``level``; a missing or unknown level is medium (SARIF's own default is warning)."""
    return _SARIF_LEVELS.get(_word(level), Severity.MEDIUM)


# Semgrep's SARIF output writes a rule's severity as a level: CRITICAL, HIGH and ERROR are
# `error`, MEDIUM and WARNING `warning`, LOW and INFO `note` (semgrep 1.185; its docs call
# ERROR, WARNING and INFO the older names of HIGH, MEDIUM and LOW). Its JSON output keeps
# the word. Reading the JSON word through the level SARIF would carry gives one severity
# per rule whatever the format semgrep wrote: the JSON cannot know more than the SARIF
# without the two disagreeing, so CRITICAL is high in both (the word stays in metadata).
_SEMGREP_LEVELS: dict[str, str] = {
    "CRITICAL": "error",
    "HIGH": "error",
    "ERROR": "error",
    "MEDIUM": "warning",
    "WARNING": "warning",
    "LOW": "note",
    "INFO": "note",
}


def semgrep_sarif_level(severity: str | None) -> str:
    """The SARIF level semgrep writes for a rule severity; SARIF's default, warning, for a
    word semgrep has no level for (EXPERIMENT and INVENTORY rules report nothing)."""
    return _SEMGREP_LEVELS.get(_word(severity), "warning")


def severity_from_semgrep(severity: str | None, security_severity: object = None) -> Severity:
    """Semgrep, JSON or SARIF alike: a rule's numeric ``security-severity`` (semgrep copies
    it into its SARIF rule properties) picks the CodeQL band, as the SARIF parser does for
    every tool; otherwise the rule severity's SARIF level maps as any SARIF level.

    ``metadata.impact`` does not count (the reference SDK makes HIGH critical): semgrep's
    SARIF does not carry it, so the same scan would count critical findings in one format
    and none in the other. Its docs also say the rule author's severity is the truth.
    """
    level = semgrep_sarif_level(severity)
    score = security_severity_score(security_severity)
    if score is None:
        return severity_from_sarif_level(level)
    return severity_from_codeql(score, level)


def security_severity_score(value: object) -> float | None:
    """A SARIF ``security-severity`` property (a CVSS-like score, usually text) as a number,
    or None when it is not a number from 0 to 10 ("HIGH", "NaN", 11, True)."""
    if isinstance(value, bool):
        return None
    try:
        score = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond floats
        return None
    return score if 0.0 <= score <= 10.0 else None


_CODEQL_LEVELS: dict[str, Severity] = {
    "ERROR": Severity.HIGH,
    "WARNING": Severity.MEDIUM,
    "NOTE": Severity.LOW,
}


def severity_from_codeql(
    security_severity: str | float | None, level: str | None = None
) -> Severity:
    """CodeQL: the rule's ``security-severity`` score first, then the level (default info).

    A score that does not parse, or lies outside 0-10, is ignored rather than trusted.
    """
    score: float | None = None
    if isinstance(security_severity, str):
        try:
            score = float(security_severity.strip())
        except ValueError:
            score = None
    elif isinstance(security_severity, int | float) and not isinstance(security_severity, bool):
        # Range first: float() of an int beyond any float raises OverflowError.
        score = float(security_severity) if 0 <= security_severity <= 10 else None
    if score is not None and math.isfinite(score) and 0 <= score <= 10:
        return _cvss_band(score, codeql=True)
    return _CODEQL_LEVELS.get(_word(level), Severity.INFO)


_TRIVY: dict[str, Severity] = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
    "UNKNOWN": Severity.INFO,
}


def severity_from_trivy(word: str | None) -> Severity:
    """Trivy's five words; UNKNOWN and anything unexpected become info, as in the SDK."""
    return _TRIVY.get(_word(word), Severity.INFO)
