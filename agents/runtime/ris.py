"""A Report as RIS 1.0 JSON (docs/wire-protocol.md, Reports), what the agent sends to
`/api/v1/agent/ingest/ris`.

Written to be read back by the server's own parser (`ingest.parsers.ris`) without loss
of what it stores: a test round-trips reports and compares findings and fingerprints.
Each finding carries its fingerprint as `fingerprint_of` computes it here, so the server
and the agent agree on identity even when the tool had none of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from findings.rules.assets import InvalidAssetIdentifier, normalize_asset, parse_asset_type
from protocol.report import Report, ReportDependency, ReportFinding, ReportTarget, fingerprint_of
from protocol.ris import DETAILS, EXTRAS, RIS_VERSION, TITLE_LENGTH


def to_ris(report: Report, *, scan_id: str = "", agent_id: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "timestamp": _time(report.started_at or report.finished_at or datetime.now(UTC)),
        "coverage_type": report.coverage,
        "source_type": "scanner",
    }
    if scan_id or report.scan_id:
        metadata["id"] = scan_id or report.scan_id
    if report.branch:
        metadata["branch"] = report.branch
    if report.started_at and report.finished_at:
        elapsed = report.finished_at - report.started_at
        metadata["duration_ms"] = max(0, int(elapsed.total_seconds() * 1000))
    properties = {k: v for k, v in report.metadata.items() if v not in (None, "", [], {})}
    if report.warnings:
        properties["warnings"] = report.warnings[:100]
    if agent_id:
        properties["agent_id"] = agent_id
    if properties:
        metadata["properties"] = properties
    tool = {"name": report.tool_name}
    if report.tool_version:
        tool["version"] = report.tool_version
    return {
        "version": RIS_VERSION,
        "metadata": metadata,
        "tool": tool,
        "assets": [_asset(t, i) for i, t in enumerate(report.targets)],
        "findings": [_finding(f, len(report.targets)) for f in report.findings],
        "dependencies": [_dependency(d) for d in report.dependencies],
    }


def asset_ref(index: int) -> str:
    return f"asset-{index}"


def _asset(target: ReportTarget, index: int) -> dict[str, Any]:
    asset: dict[str, Any] = {
        "id": asset_ref(index),
        "type": _asset_type(target),
        "value": target.identifier,
    }
    if target.name:
        asset["name"] = target.name
    if target.description:
        asset["description"] = target.description
    if target.tags:
        asset["tags"] = target.tags[:50]
    for key in ("criticality", "technical"):
        if key in target.metadata:
            asset[key] = target.metadata[key]
    rest = {k: v for k, v in target.metadata.items() if k not in ("criticality", "technical")}
    if rest:
        asset["properties"] = rest
    return asset


def _asset_type(target: ReportTarget) -> str:
    """RIS requires a type; a target without one gets the type its identifier suggests."""
    if target.type and parse_asset_type(target.type) is not None:
        return str(parse_asset_type(target.type))
    try:
        return str(normalize_asset(target.identifier).type)
    except InvalidAssetIdentifier:
        return "other"


def _finding(finding: ReportFinding, targets: int) -> dict[str, Any]:
    title, description = finding.title.strip(), finding.description
    lines = title.splitlines()
    if len(lines) > 1 or len(title) > TITLE_LENGTH:
        # The server keeps a title's first line only; the whole message goes on in the
        # description so that nothing a tool said is dropped.
        if title not in description:
            description = f"{title}\n\n{description}".strip()
        title = lines[0][:TITLE_LENGTH] if lines else title
    item: dict[str, Any] = {
        "type": str(finding.finding_type),
        "title": title or finding.rule_id or "finding",
        "severity": str(finding.severity),
        "fingerprint": fingerprint_of(finding),
    }
    for key, value in (
        ("rule_id", finding.rule_id),
        ("rule_name", finding.rule_name),
        ("description", description),
        ("confidence", finding.confidence),
    ):
        if value not in (None, ""):
            item[key] = value
    if finding.target_index is not None and finding.target_index < targets:
        item["asset_ref"] = asset_ref(finding.target_index)
    if location := _location(finding):
        item["location"] = location
    if vulnerability := _vulnerability(finding):
        item["vulnerability"] = vulnerability
    if finding.partial_fingerprints:
        item["partial_fingerprints"] = dict(finding.partial_fingerprints)
    if finding.references:
        item["references"] = list(finding.references)
    metadata = dict(finding.metadata)
    for name in DETAILS:
        if isinstance(metadata.get(name), dict):
            item[name] = metadata.pop(name)
    for name in EXTRAS:
        if name in metadata:
            item[name] = metadata.pop(name)
    if finding.suppressed and "suppression" not in item:
        # The tool itself marked it (a SARIF suppression, an audited false positive).
        item["suppression"] = {"kind": "external", "status": "accepted"}
    properties = metadata.pop("properties", None)
    properties = dict(properties) if isinstance(properties, dict) else {}
    properties.update(metadata)  # tool extras the RIS schema has no field for
    if properties:
        item["properties"] = properties
    return item


def _location(finding: ReportFinding) -> dict[str, Any]:
    location: dict[str, Any] = {}
    for key, value in (
        ("path", finding.file_path),
        ("start_line", finding.start_line),
        ("end_line", finding.end_line),
        ("start_column", finding.start_column),
        ("end_column", finding.end_column),
        ("snippet", finding.snippet),
        ("url", finding.url),
    ):
        if value not in (None, ""):
            location[key] = value
    return location


def _vulnerability(finding: ReportFinding) -> dict[str, Any]:
    vulnerability: dict[str, Any] = {}
    for key, value in (
        ("cve_id", finding.cve_id),
        ("cvss_score", finding.cvss_score),
        ("cvss_vector", finding.cvss_vector),
        ("epss_score", finding.epss_score),
        ("package", finding.package_name),
        ("affected_version", finding.package_version),
        ("fixed_version", finding.fixed_version),
    ):
        if value not in (None, ""):
            vulnerability[key] = value
    if finding.cwe_ids:
        vulnerability["cwe_ids"] = list(finding.cwe_ids)
    return vulnerability


def _dependency(dependency: ReportDependency) -> dict[str, Any]:
    item: dict[str, Any] = {"name": dependency.name}
    for key, value in (
        ("version", dependency.version),
        ("ecosystem", dependency.ecosystem),
        ("purl", dependency.purl),
        ("type", dependency.type),
        ("relationship", dependency.relationship),
        ("path", dependency.path),
        ("target_index", dependency.target_index),
    ):
        if value not in (None, ""):
            item[key] = value
    if dependency.licenses:
        item["licenses"] = list(dependency.licenses)
    if dependency.depends_on:
        item["depends_on"] = list(dependency.depends_on)
    return item


def _time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
