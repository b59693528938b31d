"""RIS 1.0, the Rediver Ingest Schema (docs/wire-protocol.md, Reports), plain or wrapped as
`{"report": {…}}`: `metadata`, `tool`, `assets`, `findings` with a type and detail objects
(`location`, `vulnerability`, `secret`, `misconfiguration`, `remediation`…), `dependencies`.

Findings name their asset by `asset_ref` (an asset's local `id`) or by `asset_value` (+
`asset_type`); a value not among `assets` becomes a target of its own.

As the reference SDK has it, `tool` is optional (the caller names a report without one)
and a severity word outside the vocabulary is stored as medium, noted in the warnings.

A secret's value, wherever a sender puts it (`secret.secret_value`, `secret.value`,
`raw`, `match`…, `secret_value` in `properties`), is taken out of the metadata and
masked wherever it occurs — title, description, snippet…; a hard-coded credential sent
as a vulnerability is filed as a secret, as from the tools' formats
(ingest/parsers/credentials.py).
"""

from __future__ import annotations

from typing import Any

from findings.rules.assets import parse_asset_type
from findings.rules.categories import FindingType
from ingest.parsers import shape
from ingest.parsers.credentials import classified
from ingest.parsers.flat import dependency, severity, unknown_severity_warnings
from protocol.report import COVERAGES, Report, ReportError, ReportFinding, ReportTarget
from protocol.ris import DETAILS, EXTRAS, TITLE_LENGTH

FORMAT = "ris"
_FINDING_TYPES = {t.value for t in FindingType}


def recognizes(document: Any) -> bool:
    if not isinstance(document, dict):
        return False
    if isinstance(document.get("report"), dict):
        document = document["report"]
    return (
        "version" in document
        and ("tool" in document or "assets" in document)
        and (
            not isinstance(document.get("metadata"), dict)
            or "tool_name" not in document["metadata"]
        )
    )


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    document = shape.obj(document, "body")
    prefix = ""
    if "report" in document and isinstance(document["report"], dict):
        document, prefix = document["report"], "report."
    shape.text(document.get("version"), f"{prefix}version", required=True, max_length=16)
    metadata = shape.obj(document.get("metadata"), f"{prefix}metadata")
    tool = shape.obj(document.get("tool"), f"{prefix}tool", required=False)
    coverage = shape.text(
        metadata.get("coverage_type"), f"{prefix}metadata.coverage_type", default="full"
    )
    if coverage not in COVERAGES:
        raise ReportError(
            f"must be one of {', '.join(COVERAGES)}", path=f"{prefix}metadata.coverage_type"
        )

    targets: list[ReportTarget] = []
    by_ref: dict[str, int] = {}
    by_value: dict[tuple[str, str], int] = {}
    for i, item in enumerate(shape.array(document.get("assets"), f"{prefix}assets")):
        path = f"{prefix}assets[{i}]"
        target = _asset(item, path)
        ref = shape.text(item.get("id"), f"{path}.id", max_length=256)
        if ref:
            if ref in by_ref:
                raise ReportError(f"id {ref!r} is used twice", path=f"{path}.id")
            by_ref[ref] = len(targets)
        by_value.setdefault((target.type, target.identifier), len(targets))
        targets.append(target)

    findings: list[ReportFinding] = []
    unknown: list[str] = []
    for i, item in enumerate(shape.array(document.get("findings"), f"{prefix}findings")):
        path = f"{prefix}findings[{i}]"
        item = shape.obj(item, path)
        target_index = _target_of(item, path, targets, by_ref, by_value)
        findings.append(_finding(item, path, target_index, unknown))

    dependencies = [
        dependency(item, f"{prefix}dependencies[{i}]", len(targets))
        for i, item in enumerate(shape.array(document.get("dependencies"), f"{prefix}dependencies"))
    ]
    # `tool` is optional in RIS; without it the name may come from the metadata's
    # properties, else it stays empty and the caller fills it in (the scan session's
    # scanner, else "unknown").
    tool_name = shape.text(
        tool.get("name") or _tool_in(metadata), f"{prefix}tool.name", max_length=100
    )
    return Report(
        tool_name=tool_name,
        tool_version=shape.text(tool.get("version"), f"{prefix}tool.version", max_length=100),
        scan_id=shape.text(metadata.get("id"), f"{prefix}metadata.id", max_length=200),
        coverage=coverage,
        targets=targets,
        findings=[classified(finding, tool_name) for finding in findings],
        dependencies=dependencies,
        started_at=shape.timestamp(metadata.get("timestamp"), f"{prefix}metadata.timestamp"),
        branch=shape.obj(metadata.get("branch"), f"{prefix}metadata.branch", required=False),
        metadata={
            k: metadata[k]
            for k in ("source_type", "source_ref", "scope", "duration_ms")
            if k in metadata
        },
        warnings=unknown_severity_warnings(unknown),
    )


def _tool_in(metadata: dict) -> Any:
    properties = metadata.get("properties")
    if not isinstance(properties, dict):
        return None
    return next((properties[k] for k in ("tool_name", "tool") if properties.get(k)), None)


def _asset(item: Any, path: str) -> ReportTarget:
    item = shape.obj(item, path)
    kind = shape.text(item.get("type"), f"{path}.type", required=True, max_length=64)
    asset_type = parse_asset_type(kind)
    if asset_type is None:
        raise ReportError(f"{kind!r} is not an asset type", path=f"{path}.type")
    return ReportTarget(
        identifier=shape.text(item.get("value"), f"{path}.value", required=True, max_length=1024),
        type=asset_type.value,
        name=shape.text(item.get("name"), f"{path}.name", max_length=500),
        description=shape.text(item.get("description"), f"{path}.description"),
        tags=shape.strings(item.get("tags"), f"{path}.tags")[:50],
        metadata={k: item[k] for k in ("criticality", "technical", "properties") if k in item},
    )


def _target_of(item, path, targets, by_ref, by_value) -> int | None:
    ref = shape.text(item.get("asset_ref"), f"{path}.asset_ref", max_length=256)
    if ref:
        if ref not in by_ref:
            raise ReportError(f"no asset has id {ref!r}", path=f"{path}.asset_ref")
        return by_ref[ref]
    value = shape.text(item.get("asset_value"), f"{path}.asset_value", max_length=1024)
    if not value:
        return None
    kind = shape.text(item.get("asset_type"), f"{path}.asset_type", max_length=64)
    asset_type = parse_asset_type(kind) if kind else None
    if kind and asset_type is None:
        raise ReportError(f"{kind!r} is not an asset type", path=f"{path}.asset_type")
    key = (asset_type.value if asset_type else "", value)
    if key not in by_value:
        by_value[key] = len(targets)
        targets.append(ReportTarget(identifier=value, type=key[0]))
    return by_value[key]


def _finding(item: dict, path: str, target_index: int | None, unknown: list[str]) -> ReportFinding:
    kind = shape.text(item.get("type"), f"{path}.type", required=True)
    if kind not in _FINDING_TYPES:
        raise ReportError(f"{kind!r} is not a finding type", path=f"{path}.type")
    location = shape.obj(item.get("location"), f"{path}.location", required=False)
    vuln = shape.obj(item.get("vulnerability"), f"{path}.vulnerability", required=False)
    cwes = [
        shape.cwe(c, f"{path}.vulnerability.cwe_ids[{i}]")
        for i, c in enumerate(shape.array(vuln.get("cwe_ids"), f"{path}.vulnerability.cwe_ids"))
    ]
    if vuln.get("cwe_id"):
        cwes.append(shape.cwe(vuln["cwe_id"], f"{path}.vulnerability.cwe_id"))
    metadata = {name: item[name] for name in DETAILS if isinstance(item.get(name), dict)}
    for extra in (*EXTRAS, "properties"):
        if extra in item:
            metadata[extra] = item[extra]
    suppression = metadata.get("suppression", {})
    level, original = severity(item.get("severity"), f"{path}.severity", unknown)
    if original:
        metadata["original_severity"] = original
    title = shape.text(item.get("title"), f"{path}.title", required=True)
    return ReportFinding(
        rule_id=shape.text(item.get("rule_id"), f"{path}.rule_id", max_length=500),
        rule_name=shape.text(item.get("rule_name"), f"{path}.rule_name", max_length=500),
        title=title.strip().splitlines()[0][:TITLE_LENGTH] if title.strip() else title,
        description=shape.text(item.get("description"), f"{path}.description"),
        severity=level,
        finding_type=FindingType(kind),
        confidence=shape.integer(item.get("confidence"), f"{path}.confidence"),
        target_index=target_index,
        fingerprint=shape.text(item.get("fingerprint"), f"{path}.fingerprint", max_length=512),
        partial_fingerprints=shape.string_map(
            item.get("partial_fingerprints"), f"{path}.partial_fingerprints"
        ),
        file_path=shape.text(location.get("path"), f"{path}.location.path", max_length=1024),
        start_line=shape.integer(location.get("start_line"), f"{path}.location.start_line"),
        end_line=shape.integer(location.get("end_line"), f"{path}.location.end_line"),
        start_column=shape.integer(location.get("start_column"), f"{path}.location.start_column"),
        end_column=shape.integer(location.get("end_column"), f"{path}.location.end_column"),
        snippet=shape.text(location.get("snippet"), f"{path}.location.snippet"),
        url=shape.text(
            location.get("url") or item.get("url"), f"{path}.location.url", max_length=2048
        ),
        cve_id=shape.text(vuln.get("cve_id"), f"{path}.vulnerability.cve_id", max_length=64),
        cwe_ids=sorted(set(cwes)),
        cvss_score=shape.number(
            vuln.get("cvss_score"), f"{path}.vulnerability.cvss_score", minimum=0, maximum=10
        ),
        cvss_vector=shape.text(
            vuln.get("cvss_vector"), f"{path}.vulnerability.cvss_vector", max_length=200
        ),
        epss_score=shape.number(
            vuln.get("epss_score"), f"{path}.vulnerability.epss_score", minimum=0, maximum=1
        ),
        package_name=shape.text(
            vuln.get("package"), f"{path}.vulnerability.package", max_length=500
        ),
        package_version=shape.text(
            vuln.get("affected_version"), f"{path}.vulnerability.affected_version", max_length=200
        ),
        fixed_version=shape.text(
            vuln.get("fixed_version"), f"{path}.vulnerability.fixed_version", max_length=200
        ),
        references=shape.strings(item.get("references"), f"{path}.references"),
        metadata=metadata,
        suppressed=(bool(suppression) and suppression.get("status") != "rejected")
        or item.get("status") == "false_positive",
    )
