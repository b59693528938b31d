"""Checkov's JSON output (`checkov -o json`): one object per framework that ran
(`check_type`, `results` {passed_checks, failed_checks, skipped_checks, parsing_errors},
`summary`), a list of them when several frameworks ran, or only the summary object when
nothing was scanned.

Only failed checks are findings. `severity` is null unless checkov talks to its platform:
such checks are medium, like SARIF's default. Findings are misconfigurations, except
those of the `secrets` framework (secrets) and of the `sca_*` frameworks, which carry
`vulnerability_details` (vulnerabilities).

Fingerprints: checkov has no finding id, so `fingerprint` stays empty and the pipeline
applies the misconfiguration formula to `metadata["misconfiguration"]` (resource type,
resource name = checkov's full resource address, rule, path). A secrets check names the
secret by a hash in `resource`; it is folded into the secret formula, and its code line
(checkov masks most of the secret, not all of it) is not kept.
"""

from __future__ import annotations

from typing import Any

from findings.rules.categories import FindingType
from findings.rules.fingerprint import secret_fingerprint
from findings.rules.severity import Severity, normalize_severity
from ingest.parsers import shape
from ingest.parsers.credentials import conceal
from protocol.report import Report, ReportError, ReportFinding

FORMAT = "checkov"

_DEFAULT_SEVERITY = Severity.MEDIUM
_SECRETS_FRAMEWORK = "secrets"
# Frameworks whose resource address is `[module.x.]<type>.<name>`.
_TYPE_BEFORE_NAME = {"terraform", "terraform_plan", "terraform_json"}
# Frameworks whose resource address starts with the kind: `AWS::S3::Bucket.Name`,
# `Deployment.default.nginx`.
_TYPE_FIRST = {"cloudformation", "kubernetes", "helm", "kustomize", "serverless"}
_KEPT_FIELDS = (
    "check_class",
    "bc_check_id",
    "bc_category",
    "benchmarks",
    "resource_address",
    "guideline",
)


def recognizes(document: object) -> bool:
    if isinstance(document, list):
        return bool(document) and _is_framework_report(document[0])
    if not isinstance(document, dict):
        return False
    return _is_framework_report(document) or _is_summary_only(document)


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    if isinstance(document, list):
        reports = [(shape.obj(item, f"[{i}]"), f"[{i}].") for i, item in enumerate(document)]
    else:
        reports = [(shape.obj(document, "body"), "")]
    version = ""
    findings: list[ReportFinding] = []
    for report, prefix in reports:
        if _is_summary_only(report):
            version = version or _version(report, f"{prefix}checkov_version")
            continue
        framework = shape.text(
            report.get("check_type"), f"{prefix}check_type", required=True, max_length=100
        )
        summary = shape.obj(report.get("summary"), f"{prefix}summary", required=False)
        version = version or _version(summary, f"{prefix}summary.checkov_version")
        results = shape.obj(report.get("results"), f"{prefix}results")
        failed = shape.array(results.get("failed_checks"), f"{prefix}results.failed_checks")
        for i, item in enumerate(failed):
            path = f"{prefix}results.failed_checks[{i}]"
            findings.append(_finding(shape.obj(item, path), path, framework))
    return Report(tool_name=FORMAT, tool_version=version, findings=findings)


def _is_framework_report(document: object) -> bool:
    return (
        isinstance(document, dict)
        and "check_type" in document
        and isinstance(document.get("results"), dict)
    )


def _is_summary_only(document: dict) -> bool:
    return "checkov_version" in document and "failed" in document and "results" not in document


def _version(holder: dict, path: str) -> str:
    return shape.text(holder.get("checkov_version"), path, max_length=100)


def _finding(item: dict, path: str, framework: str) -> ReportFinding:
    check_id = shape.text(item.get("check_id"), f"{path}.check_id", required=True, max_length=200)
    name = shape.text(item.get("check_name"), f"{path}.check_name", max_length=2000) or check_id
    file_path = shape.text(item.get("file_path"), f"{path}.file_path", max_length=1024)
    resource = shape.text(item.get("resource"), f"{path}.resource", max_length=2048)
    start_line, end_line = _line_range(item.get("file_line_range"), f"{path}.file_line_range")
    guideline = shape.text(item.get("guideline"), f"{path}.guideline", max_length=2048)
    vulnerability = shape.obj(
        item.get("vulnerability_details"), f"{path}.vulnerability_details", required=False
    )

    if framework == _SECRETS_FRAMEWORK:
        finding_type = FindingType.SECRET
    elif vulnerability:
        finding_type = FindingType.VULNERABILITY
    else:
        finding_type = FindingType.MISCONFIGURATION

    metadata: dict[str, Any] = {"framework": framework}
    if resource and finding_type is not FindingType.SECRET:
        metadata["resource"] = resource
    metadata |= {key: item[key] for key in _KEPT_FIELDS if item.get(key)}
    result = item.get("check_result")
    if isinstance(result, dict) and result.get("evaluated_keys"):
        metadata["evaluated_keys"] = result["evaluated_keys"]
    if finding_type is FindingType.MISCONFIGURATION:
        metadata["misconfiguration"] = {
            "policy_id": check_id,
            "policy_name": name,
            "resource_type": _resource_type(resource, framework),
            "resource_name": resource,
        }
    elif finding_type is FindingType.SECRET:
        metadata["secret"] = {"secret_type": name}

    description = shape.text(item.get("description"), f"{path}.description") or shape.text(
        item.get("short_description"), f"{path}.short_description"
    )
    finding = ReportFinding(
        rule_id=check_id,
        rule_name=name,
        title=name.strip().splitlines()[0] if name.strip() else check_id,
        description=description,
        severity=_severity(item.get("severity"), f"{path}.severity"),
        finding_type=finding_type,
        file_path=file_path,
        start_line=start_line,
        end_line=end_line,
        snippet=""
        if finding_type is FindingType.SECRET
        else _code_block(item.get("code_block"), f"{path}.code_block"),
        references=[guideline] if guideline else [],
        metadata=metadata,
    )
    if finding_type is FindingType.SECRET:
        finding.fingerprint = secret_fingerprint(
            path=file_path, rule_id=check_id, start_line=start_line or 0, secret=resource
        )
    if vulnerability:
        _add_vulnerability(finding, vulnerability, f"{path}.vulnerability_details")
    return conceal(finding)


def _severity(value: Any, path: str) -> Severity:
    word = shape.text(value, path, max_length=20)
    if not word:
        return _DEFAULT_SEVERITY
    found = normalize_severity(word)
    if found is None:
        raise ReportError(f"{word!r} is not a severity", path=path)
    return found


def _line_range(value: Any, path: str) -> tuple[int | None, int | None]:
    bounds = shape.array(value, path)
    if not bounds:
        return None, None
    if len(bounds) != 2:
        raise ReportError("must be [start, end]", path=path)
    # Checkov writes [0, 0] for file-level checks (a whole Dockerfile): no line to point at.
    start = shape.integer(bounds[0], f"{path}[0]") or None
    end = shape.integer(bounds[1], f"{path}[1]") or None
    return start, end


def _resource_type(resource: str, framework: str) -> str:
    parts = resource.split(".")
    if framework in _TYPE_BEFORE_NAME and len(parts) >= 2:
        return parts[-2]
    if framework in _TYPE_FIRST and len(parts) >= 2:
        return parts[0]
    return ""


def _code_block(value: Any, path: str) -> str:
    lines = []
    for i, entry in enumerate(shape.array(value, path)):
        entry = shape.array(entry, f"{path}[{i}]", required=True)
        if len(entry) != 2:
            raise ReportError("must be [line number, text]", path=f"{path}[{i}]")
        lines.append(shape.text(entry[1], f"{path}[{i}][1]"))
    return "".join(lines).rstrip("\n")


def _add_vulnerability(finding: ReportFinding, details: dict, path: str) -> None:
    vuln_id = shape.text(details.get("id"), f"{path}.id", max_length=200)
    finding.cve_id = vuln_id if vuln_id.upper().startswith("CVE-") else ""
    finding.package_name = shape.text(
        details.get("package_name"), f"{path}.package_name", max_length=500
    )
    finding.package_version = shape.text(
        details.get("package_version"), f"{path}.package_version", max_length=200
    )
    finding.fixed_version = shape.text(
        details.get("lowest_fixed_version") or details.get("fix_version"),
        f"{path}.lowest_fixed_version",
        max_length=500,
    )
    cvss = details.get("cvss")
    if isinstance(cvss, int | float) and not isinstance(cvss, bool) and 0 <= cvss <= 10:
        finding.cvss_score = float(cvss)
    if isinstance(details.get("vector"), str):
        finding.cvss_vector = details["vector"]
    link = details.get("link")
    if isinstance(link, str) and link and link not in finding.references:
        finding.references.append(link)
    if vuln_id:
        finding.metadata["vulnerability_id"] = vuln_id
