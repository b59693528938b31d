"""The internal report: one shape for every input format (RIS, legacy flat, SARIF, the
native outputs of semgrep, bandit, trivy…). Parsers produce it; the pipeline stores it.

Django-free: the agent program builds the same objects from the tools it runs.

Fingerprints: a parser puts the tool's own stable identity in `ReportFinding.fingerprint`
when the tool has one (SARIF `fingerprints`/`partialFingerprints`, semgrep's and
gitleaks' fingerprints, trivy's and nuclei's formulas, an agent's well-formed
`fingerprint`). Otherwise `fingerprint_of` computes the reference SDK's formula for the
finding's type from its fields (findings/rules/fingerprint.py). A line that moves does
not change a tool fingerprint; it does change the computed sast formula, which is why
tool fingerprints come first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from findings.rules.categories import FindingType
from findings.rules.fingerprint import (
    FingerprintInput,
    FingerprintType,
    compute_fingerprint,
    is_well_formed_fingerprint,
)
from findings.rules.severity import Severity
from protocol.limits import counted


class ReportError(ValueError):
    """The input is not a report we can store. `path` names the field at fault, e.g.
    `findings[3].severity`; `errors` may list several problems. The server answers it
    with `status` and the body `{"error": error()}`."""

    status = 400

    def __init__(self, message: str, *, path: str = "", errors: list[dict] | None = None):
        self.message = message
        self.path = path
        self.errors = errors or ([{"path": path, "message": message}] if path else [])
        super().__init__(f"{path}: {message}" if path else message)

    def error(self) -> dict:
        return {
            "code": "VALIDATION_ERROR",
            "message": str(self),
            "details": {"errors": self.errors},
        }


@dataclass(slots=True)
class ReportTarget:
    """An asset the report is about. `type` may be empty: the identifier decides."""

    identifier: str
    type: str = ""
    name: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counted("targets")  # the report's limits (protocol/limits.py)


@dataclass(slots=True)
class ReportFinding:
    rule_id: str
    title: str
    severity: Severity
    finding_type: FindingType = FindingType.VULNERABILITY
    description: str = ""
    rule_name: str = ""
    # Which target (index into Report.targets); None means the report's only/default one.
    target_index: int | None = None
    # The tool's own stable identity, if it has one (see the module docstring).
    fingerprint: str = ""
    partial_fingerprints: dict[str, str] = field(default_factory=dict)
    tool_name: str = ""  # when one report mixes tools (SARIF runs); else Report.tool_name
    confidence: int | None = None  # 0–100

    file_path: str = ""
    start_line: int | None = None
    end_line: int | None = None
    start_column: int | None = None
    end_column: int | None = None
    snippet: str = ""
    url: str = ""

    cve_id: str = ""
    cwe_ids: list[str] = field(default_factory=list)  # "CWE-89" form
    cvss_score: float | None = None
    cvss_vector: str = ""
    epss_score: float | None = None
    package_name: str = ""
    package_version: str = ""
    fixed_version: str = ""
    references: list[str] = field(default_factory=list)
    # Detail objects (secret, misconfiguration, remediation…) and tool extras. Never a
    # raw secret: parsers keep it only in `secret_values`, below.
    metadata: dict[str, Any] = field(default_factory=dict)
    # A state the tool itself asserts: "false_positive" for SARIF suppressions.
    suppressed: bool = False
    # The raw secret(s) the finding is about, as the parser read them: in memory only,
    # never stored nor sent (no column, no RIS field, not in repr). The server's secret
    # policy (ingest/secrets.py) masks each of them wherever it occurs, then drops them.
    secret_values: list[str] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        counted("findings")


@dataclass(slots=True)
class ReportDependency:
    """One package of the target's dependency snapshot (SBOM)."""

    name: str
    version: str = ""
    ecosystem: str = ""
    purl: str = ""
    type: str = "library"  # library, application, framework, other
    licenses: list[str] = field(default_factory=list)
    relationship: str = "unknown"  # direct, transitive, unknown
    depends_on: list[str] = field(default_factory=list)
    path: str = ""
    target_index: int | None = None

    def __post_init__(self) -> None:
        counted("dependencies")


COVERAGES = ("full", "partial", "incremental")


@dataclass(slots=True)
class Report:
    tool_name: str
    tool_version: str = ""
    scan_id: str = ""
    # Only a full run may resolve findings it no longer reports.
    coverage: str = "full"
    targets: list[ReportTarget] = field(default_factory=list)
    findings: list[ReportFinding] = field(default_factory=list)
    dependencies: list[ReportDependency] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    branch: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    # Problems that did not stop the report (a skipped entry…), for the `errors` reply.
    warnings: list[str] = field(default_factory=list)


_TYPE_BY_FINDING = {
    FindingType.SECRET: FingerprintType.SECRET,
    FindingType.MISCONFIGURATION: FingerprintType.MISCONFIG,
}


def fingerprint_of(finding: ReportFinding) -> str:
    """The finding's identity across runs: its tool fingerprint when well formed, else
    the reference SDK's formula for its type."""
    if finding.fingerprint and is_well_formed_fingerprint(finding.fingerprint):
        return finding.fingerprint
    misconfig = finding.metadata.get("misconfiguration")
    misconfig = misconfig if isinstance(misconfig, dict) else {}
    inp = FingerprintInput(
        rule_id=finding.rule_id,
        path=finding.file_path,
        start_line=finding.start_line or 0,
        end_line=finding.end_line or 0,
        message=finding.title,
        package=finding.package_name,
        version=finding.package_version,
        vuln_id=finding.cve_id or (finding.rule_id if finding.package_name else ""),
        resource_type=misconfig.get("resource_type"),
        resource_name=misconfig.get("resource_name"),
        host=_host(finding.url),
        url_path=_path(finding.url),
    )
    forced = _TYPE_BY_FINDING.get(finding.finding_type)
    return compute_fingerprint(inp, forced)


def _host(url: str) -> str | None:
    if not url:
        return None
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0] or None


def _path(url: str) -> str | None:
    if not url:
        return None
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"
