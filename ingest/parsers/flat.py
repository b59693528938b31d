"""The flat ingest format, which the reference SDK POSTs to `/api/v1/agent/ingest`
(docs/wire-protocol.md): `metadata`, `targets`, `findings`, `dependencies`, `summary`.

    {"version": "1.0",
     "metadata": {"tool_name": "semgrep", "tool_version": "1.0.0", "scan_id": "…",
                  "start_time": "…", "end_time": "…", "coverage_type": "full"},
     "targets": [{"type": "repository", "identifier": "github.com/org/repo", "name": "…"}],
     "findings": [{"rule_id": "…", "severity": "high", "message": "…", "file_path": "…",
                   "start_line": 42, "end_line": 42, "fingerprint": "…", "target_index": 0,
                   "cve_id": "CVE-…", "cvss_score": 8.5, "cwe_ids": ["CWE-89"]}],
     "dependencies": [{"name": "lodash", "version": "4.17.21", "ecosystem": "npm",
                       "purl": "pkg:npm/lodash@4.17.21"}]}

Legacy target types are mapped as the server of the reference does (`web` → web_application,
`ip` → ip_address). The SDK loses finding types, CVE/CWE and branches on this route; we
accept them when present. A secret's value in a finding's `metadata` (`secret`, or its
`secret_value`, `value`…) is taken out and masked wherever it occurs, and a hard-coded
credential sent as a vulnerability is filed as a secret (ingest/parsers/credentials.py).
"""

from __future__ import annotations

from typing import Any

from findings.rules.assets import parse_asset_type
from findings.rules.categories import FindingType
from findings.rules.severity import Severity, normalize_severity
from ingest.parsers import shape
from ingest.parsers.credentials import classified
from protocol.report import (
    COVERAGES,
    Report,
    ReportDependency,
    ReportError,
    ReportFinding,
    ReportTarget,
)

FORMAT = "flat"
_FINDING_TYPES = {t.value for t in FindingType}
# Unknown severity words named one by one in the reply; the rest are counted.
UNKNOWN_SEVERITIES_NAMED = 20


def recognizes(document: object) -> bool:
    if not isinstance(document, dict):
        return False
    metadata = document.get("metadata")
    return isinstance(metadata, dict) and "tool_name" in metadata and "tool" not in document


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    document = shape.obj(document, "body")
    metadata = shape.obj(document.get("metadata"), "metadata")
    coverage = shape.text(metadata.get("coverage_type"), "metadata.coverage_type", default="full")
    if coverage not in COVERAGES:
        raise ReportError(f"must be one of {', '.join(COVERAGES)}", path="metadata.coverage_type")
    targets = [
        _target(item, f"targets[{i}]")
        for i, item in enumerate(shape.array(document.get("targets"), "targets"))
    ]
    unknown: list[str] = []
    findings = [
        _finding(item, f"findings[{i}]", len(targets), unknown)
        for i, item in enumerate(shape.array(document.get("findings"), "findings"))
    ]
    dependencies = [
        dependency(item, f"dependencies[{i}]", len(targets))
        for i, item in enumerate(shape.array(document.get("dependencies"), "dependencies"))
    ]
    tool_name = shape.text(
        metadata.get("tool_name"), "metadata.tool_name", required=True, max_length=100
    )
    return Report(
        tool_name=tool_name,
        tool_version=shape.text(
            metadata.get("tool_version"), "metadata.tool_version", max_length=100
        ),
        scan_id=shape.text(metadata.get("scan_id"), "metadata.scan_id", max_length=200),
        coverage=coverage,
        targets=targets,
        findings=[classified(finding, tool_name) for finding in findings],
        dependencies=dependencies,
        started_at=shape.timestamp(metadata.get("start_time"), "metadata.start_time"),
        finished_at=shape.timestamp(metadata.get("end_time"), "metadata.end_time"),
        branch=shape.obj(metadata.get("branch"), "metadata.branch", required=False),
        metadata={"agent_id": metadata.get("agent_id")} if metadata.get("agent_id") else {},
        warnings=unknown_severity_warnings(unknown),
    )


def _target(item: Any, path: str) -> ReportTarget:
    item = shape.obj(item, path)
    kind = shape.text(item.get("type"), f"{path}.type", max_length=64)
    asset_type = parse_asset_type(kind) if kind else None
    if kind and asset_type is None:
        raise ReportError(f"{kind!r} is not an asset type", path=f"{path}.type")
    return ReportTarget(
        identifier=shape.text(
            item.get("identifier"), f"{path}.identifier", required=True, max_length=1024
        ),
        type=asset_type.value if asset_type is not None else "",
        name=shape.text(item.get("name"), f"{path}.name", max_length=500),
        description=shape.text(item.get("description"), f"{path}.description"),
        metadata=shape.obj(item.get("metadata"), f"{path}.metadata", required=False),
    )


def target_index(value: Any, path: str, targets: int) -> int | None:
    index = shape.integer(value, path)
    if index is not None and index >= targets:
        raise ReportError(f"points past the {targets} target(s)", path=path)
    return index


def _finding(item: Any, path: str, targets: int, unknown: list[str]) -> ReportFinding:
    item = shape.obj(item, path)
    level, original = severity(item.get("severity"), f"{path}.severity", unknown)
    metadata = shape.obj(item.get("metadata"), f"{path}.metadata", required=False)
    if original:
        metadata = {**metadata, "original_severity": original}
    kind = shape.text(item.get("type"), f"{path}.type", default="vulnerability")
    if kind not in _FINDING_TYPES:
        raise ReportError(f"{kind!r} is not a finding type", path=f"{path}.type")
    message = shape.text(item.get("message") or item.get("title"), f"{path}.message", required=True)
    start_line = shape.integer(item.get("start_line"), f"{path}.start_line")
    return ReportFinding(
        rule_id=shape.text(item.get("rule_id"), f"{path}.rule_id", max_length=500),
        title=message.strip().splitlines()[0][:1000] if message.strip() else message,
        description=shape.text(item.get("description"), f"{path}.description") or message,
        severity=level,
        finding_type=FindingType(kind),
        target_index=target_index(item.get("target_index"), f"{path}.target_index", targets),
        fingerprint=shape.text(item.get("fingerprint"), f"{path}.fingerprint", max_length=512),
        file_path=shape.text(item.get("file_path"), f"{path}.file_path", max_length=1024),
        start_line=start_line,
        end_line=shape.integer(item.get("end_line"), f"{path}.end_line"),
        start_column=shape.integer(item.get("start_column"), f"{path}.start_column"),
        end_column=shape.integer(item.get("end_column"), f"{path}.end_column"),
        snippet=shape.text(item.get("snippet"), f"{path}.snippet"),
        cve_id=shape.text(item.get("cve_id"), f"{path}.cve_id", max_length=64),
        cwe_ids=[
            shape.cwe(c, f"{path}.cwe_ids[{i}]")
            for i, c in enumerate(shape.array(item.get("cwe_ids"), f"{path}.cwe_ids"))
        ],
        cvss_score=shape.number(
            item.get("cvss_score"), f"{path}.cvss_score", minimum=0, maximum=10
        ),
        metadata=metadata,
    )


def severity(value: Any, path: str, unknown: list[str]) -> tuple[Severity, str]:
    """A finding's severity, and the word it came as when that word is not one we know.

    The reference SDK turns a word outside its vocabulary into "unknown", whose Score()
    is 5: medium. So such a finding is kept and filed as medium, its word is kept for
    the record, and `unknown` collects a note for the reply; one odd word must not cost
    the whole report. A missing severity, or one that is not text, is still refused."""
    if isinstance(value, str) and value.strip() and normalize_severity(value) is None:
        word = value[:100]
        unknown.append(f"{path}: unknown word {word!r}, stored as medium")
        return Severity.MEDIUM, word
    return shape.severity(value, path), ""


def unknown_severity_warnings(unknown: list[str]) -> list[str]:
    """The notes for the reply: the first ones by name, the rest counted (a report of
    100,000 findings in an unfamiliar vocabulary must not answer 100,000 lines)."""
    named = unknown[:UNKNOWN_SEVERITIES_NAMED]
    rest = len(unknown) - len(named)
    if rest:
        named.append(f"{rest} more finding(s) had an unknown severity word, stored as medium")
    return named


def dependency(item: Any, path: str, targets: int) -> ReportDependency:
    item = shape.obj(item, path)
    return ReportDependency(
        name=shape.text(item.get("name"), f"{path}.name", required=True, max_length=500),
        version=shape.text(item.get("version"), f"{path}.version", max_length=200),
        ecosystem=shape.text(item.get("ecosystem"), f"{path}.ecosystem", max_length=64),
        purl=shape.text(item.get("purl"), f"{path}.purl", max_length=1000),
        type=_choice(
            item.get("type"),
            f"{path}.type",
            ("library", "application", "framework", "other"),
            "library",
        ),
        licenses=shape.strings(item.get("licenses"), f"{path}.licenses"),
        relationship=_choice(
            item.get("relationship"),
            f"{path}.relationship",
            ("direct", "transitive", "unknown"),
            "unknown",
        ),
        depends_on=shape.strings(item.get("depends_on"), f"{path}.depends_on"),
        path=shape.text(item.get("path") or item.get("location"), f"{path}.path", max_length=1024),
        target_index=target_index(item.get("target_index"), f"{path}.target_index", targets),
    )


def _choice(value: Any, path: str, allowed: tuple[str, ...], default: str) -> str:
    word = shape.text(value, path, default=default).lower()
    if word not in allowed:
        raise ReportError(f"{value!r} is not one of {', '.join(allowed)}", path=path)
    return word
