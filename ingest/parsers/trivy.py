"""Trivy's JSON report (`trivy <image|fs|repo|config> -f json`).

Schema 2 is an object: `SchemaVersion`, `ArtifactName`, `ArtifactType`, `Metadata`,
`Results[]`; schema 1 (trivy < 0.20) is the bare `Results` array. Each result is one
`Target` (an OS, a lock file, a Dockerfile…) of a `Class` (os-pkgs, lang-pkgs, config,
secret) holding `Vulnerabilities[]`, `Misconfigurations[]`, `Secrets[]` and, with
`--list-all-pkgs`, `Packages[]` (the report's dependencies).

The artifact becomes the report's target when it is an asset: a `container_image` (type
container) or a remote `repository`; a local path (`fs .`) is not one. Every finding and
dependency then points at it (`target_index` 0).

As in the reference SDK: fingerprints are trivy's formulas (first 32 hex characters of
sha256 over the raw `:`-joined parts), severity is trivy's word (UNKNOWN is info), the
CVSS score comes from the first source of nvd > ghsa > redhat > ubuntu > debian > amazon
(then any other) that has one, v3 before v2. Passed misconfiguration checks are not
findings. Trivy masks secrets itself, one `*` per character (`Match` is
`GITHUB_PAT=*****`); a match is kept as snippet only when it shows that masking, and
with the fixed mask in its place, which does not tell the length
(ingest/parsers/credentials.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from findings.rules.categories import FindingType
from findings.rules.fingerprint import (
    trivy_misconfiguration_fingerprint,
    trivy_secret_fingerprint,
    trivy_vulnerability_fingerprint,
)
from findings.rules.severity import severity_from_trivy
from ingest.parsers import shape
from ingest.parsers.credentials import MASK, conceal
from protocol.report import Report, ReportDependency, ReportError, ReportFinding, ReportTarget

FORMAT = "trivy"

_CVSS_SOURCES = ("nvd", "ghsa", "redhat", "ubuntu", "debian", "amazon")
# Local scans (fs, rootfs, vm) name a path on the agent's disk, not an asset.
_TARGET_TYPES = {"container_image": "container", "repository": "repository"}
_RESULT_KEYS = ("Vulnerabilities", "Misconfigurations", "Secrets")
# Trivy is deterministic: the SDK files every trivy finding at confidence 100.
_CONFIDENCE = 100
_TRIVY_MASK = re.compile(r"\*{3,}")


def recognizes(document: object) -> bool:
    if isinstance(document, dict):
        return "SchemaVersion" in document and (
            "Results" in document or "ArtifactName" in document or "ArtifactType" in document
        )
    if isinstance(document, list) and document and isinstance(document[0], dict):
        first = document[0]
        return "Target" in first and any(key in first for key in (*_RESULT_KEYS, "Class"))
    return False


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    if isinstance(document, list):
        document, prefix = {"Results": document}, ""
    else:
        document, prefix = shape.obj(document, "body"), "Results"
    targets = _targets(document)
    target_index = 0 if targets else None
    warnings: list[str] = []
    findings: list[ReportFinding] = []
    dependencies: list[ReportDependency] = []
    for i, result in enumerate(shape.array(document.get("Results"), prefix or "body")):
        path = f"{prefix}[{i}]"
        result = shape.obj(result, path)
        context = _Context(
            target=shape.text(result.get("Target"), f"{path}.Target", max_length=1024),
            result_class=shape.text(result.get("Class"), f"{path}.Class", max_length=100),
            result_type=shape.text(result.get("Type"), f"{path}.Type", max_length=100),
        )
        for j, item in enumerate(
            shape.array(result.get("Vulnerabilities"), f"{path}.Vulnerabilities")
        ):
            item_path = f"{path}.Vulnerabilities[{j}]"
            findings.append(
                _vulnerability(shape.obj(item, item_path), item_path, context, warnings)
            )
        for j, item in enumerate(
            shape.array(result.get("Misconfigurations"), f"{path}.Misconfigurations")
        ):
            item_path = f"{path}.Misconfigurations[{j}]"
            finding = _misconfiguration(shape.obj(item, item_path), item_path, context)
            if finding is not None:
                findings.append(finding)
        for j, item in enumerate(shape.array(result.get("Secrets"), f"{path}.Secrets")):
            item_path = f"{path}.Secrets[{j}]"
            findings.append(_secret(shape.obj(item, item_path), item_path, context))
        for j, item in enumerate(shape.array(result.get("Packages"), f"{path}.Packages")):
            item_path = f"{path}.Packages[{j}]"
            dependencies.append(_package(shape.obj(item, item_path), item_path, context))
    entries: list[ReportFinding | ReportDependency] = [*findings, *dependencies]
    for entry in entries:
        entry.target_index = target_index
    trivy = document.get("Trivy")
    return Report(
        tool_name=FORMAT,
        tool_version=shape.text(
            trivy.get("Version") if isinstance(trivy, dict) else None,
            "Trivy.Version",
            max_length=100,
        ),
        targets=targets,
        findings=findings,
        dependencies=dependencies,
        warnings=warnings,
    )


@dataclass(frozen=True, slots=True)
class _Context:
    """The result (one `Target`) a finding sits in."""

    target: str
    result_class: str
    result_type: str

    def metadata(self) -> dict[str, str]:
        return {
            key: value
            for key, value in (
                ("target", self.target),
                ("class", self.result_class),
                ("type", self.result_type),
            )
            if value
        }


def _targets(document: dict) -> list[ReportTarget]:
    name = shape.text(document.get("ArtifactName"), "ArtifactName", max_length=1024)
    artifact_type = shape.text(document.get("ArtifactType"), "ArtifactType", max_length=100)
    if not name or artifact_type not in _TARGET_TYPES:
        return []
    meta = shape.obj(document.get("Metadata"), "Metadata", required=False)
    os_info = meta.get("OS")
    if not isinstance(os_info, dict):
        os_info = {}
    details = {
        name: meta[key]
        for key, name in (
            ("ImageID", "image_id"),
            ("RepoTags", "repo_tags"),
            ("RepoDigests", "repo_digests"),
        )
        if meta.get(key)
    }
    if os_info.get("Family"):
        details["os"] = " ".join(str(os_info[k]) for k in ("Family", "Name") if os_info.get(k))
    return [
        ReportTarget(
            identifier=name,
            type=_TARGET_TYPES[artifact_type],
            name=name,
            tags=[str(os_info["Family"])] if os_info.get("Family") else [],
            metadata=details,
        )
    ]


def _vulnerability(item: dict, path: str, context: _Context, warnings: list[str]) -> ReportFinding:
    vuln_id = shape.text(
        item.get("VulnerabilityID"), f"{path}.VulnerabilityID", required=True, max_length=200
    )
    package = shape.text(item.get("PkgName"), f"{path}.PkgName", required=True, max_length=500)
    installed = shape.text(item.get("InstalledVersion"), f"{path}.InstalledVersion", max_length=200)
    fixed = shape.text(item.get("FixedVersion"), f"{path}.FixedVersion", max_length=500)
    title = shape.text(item.get("Title"), f"{path}.Title", max_length=2000)
    score, vector, source = _best_cvss(item.get("CVSS"), f"{path}.CVSS")

    metadata: dict[str, Any] = context.metadata()
    pkg_identifier = item.get("PkgIdentifier")
    if isinstance(pkg_identifier, dict) and isinstance(pkg_identifier.get("PURL"), str):
        metadata["purl"] = pkg_identifier["PURL"]
    for key, name in (
        ("PkgID", "pkg_id"),
        ("Status", "status"),
        ("SeveritySource", "severity_source"),
        ("PublishedDate", "published_at"),
        ("LastModifiedDate", "modified_at"),
    ):
        if isinstance(item.get(key), str) and item[key]:
            metadata[name] = item[key]
    if source:
        metadata["cvss_source"] = source
    data_source = item.get("DataSource")
    if isinstance(data_source, dict) and data_source.get("ID"):
        metadata["data_source"] = data_source["ID"]
    metadata |= _layer(item.get("Layer"))
    if fixed:
        metadata["remediation"] = {
            "recommendation": f"Upgrade {package} from {installed} to {fixed}",
            "fix_available": True,
        }

    return ReportFinding(
        rule_id=vuln_id,
        rule_name=title,
        title=f"{vuln_id}: {_first_line(title)}"
        if title
        else f"{vuln_id} in {package} {installed}",
        description=shape.text(item.get("Description"), f"{path}.Description"),
        severity=severity_from_trivy(
            shape.text(item.get("Severity"), f"{path}.Severity", max_length=20)
        ),
        finding_type=FindingType.VULNERABILITY,
        fingerprint=trivy_vulnerability_fingerprint(vuln_id, package, installed, context.target),
        confidence=_CONFIDENCE,
        file_path=shape.text(item.get("PkgPath"), f"{path}.PkgPath", max_length=1024)
        or context.target,
        cve_id=vuln_id if vuln_id.upper().startswith("CVE-") else "",
        cwe_ids=_cwe_ids(item.get("CweIDs"), f"{path}.CweIDs", warnings),
        cvss_score=score,
        cvss_vector=vector,
        package_name=package,
        package_version=installed,
        fixed_version=fixed,
        references=_references(item, path),
        metadata=metadata,
    )


def _misconfiguration(item: dict, path: str, context: _Context) -> ReportFinding | None:
    status = shape.text(item.get("Status"), f"{path}.Status", max_length=20).upper()
    if status == "PASS":
        return None
    check_id = shape.text(item.get("ID"), f"{path}.ID", required=True, max_length=200)
    check_type = shape.text(item.get("Type"), f"{path}.Type", max_length=200)
    message = shape.text(item.get("Message"), f"{path}.Message")
    title = shape.text(item.get("Title"), f"{path}.Title", max_length=2000) or check_id
    description = shape.text(item.get("Description"), f"{path}.Description")
    cause = shape.obj(item.get("CauseMetadata"), f"{path}.CauseMetadata", required=False)
    resolution = shape.text(item.get("Resolution"), f"{path}.Resolution")

    misconfiguration = {
        "policy_id": check_id,
        "policy_name": title,
        "resource_type": check_type,
        "resource_name": shape.text(
            cause.get("Resource"), f"{path}.CauseMetadata.Resource", max_length=1024
        ),
        "cause": message,
        "provider": shape.text(cause.get("Provider"), f"{path}.CauseMetadata.Provider"),
        "service": shape.text(cause.get("Service"), f"{path}.CauseMetadata.Service"),
    }
    metadata: dict[str, Any] = context.metadata()
    metadata["misconfiguration"] = {k: v for k, v in misconfiguration.items() if v}
    if resolution:
        metadata["remediation"] = {"recommendation": resolution}
    for key, name in (("AVDID", "avd_id"), ("Namespace", "namespace")):
        if isinstance(item.get(key), str) and item[key]:
            metadata[name] = item[key]
    metadata |= _layer(item.get("Layer"))

    start_line = shape.integer(cause.get("StartLine"), f"{path}.CauseMetadata.StartLine")
    return ReportFinding(
        rule_id=check_id,
        rule_name=title,
        title=_first_line(title),
        description="\n\n".join(part for part in (message, description) if part),
        severity=severity_from_trivy(
            shape.text(item.get("Severity"), f"{path}.Severity", max_length=20)
        ),
        finding_type=FindingType.MISCONFIGURATION,
        fingerprint=trivy_misconfiguration_fingerprint(
            check_id, context.target, check_type, message
        ),
        confidence=_CONFIDENCE,
        file_path=context.target,
        start_line=start_line or None,
        end_line=shape.integer(cause.get("EndLine"), f"{path}.CauseMetadata.EndLine") or None,
        snippet=_cause_lines(cause.get("Code")),
        references=_references(item, path),
        metadata=metadata,
        # EXCEPTION: a policy exception the user wrote waives the check.
        suppressed=status == "EXCEPTION",
    )


def _secret(item: dict, path: str, context: _Context) -> ReportFinding:
    rule_id = shape.text(item.get("RuleID"), f"{path}.RuleID", required=True, max_length=200)
    start_line = shape.integer(item.get("StartLine"), f"{path}.StartLine")
    match = shape.text(item.get("Match"), f"{path}.Match")
    category = shape.text(item.get("Category"), f"{path}.Category", max_length=200)
    title = shape.text(item.get("Title"), f"{path}.Title", max_length=2000) or rule_id
    metadata: dict[str, Any] = context.metadata()
    metadata["secret"] = {"secret_type": category or title}
    metadata |= _layer(item.get("Layer"))
    finding = ReportFinding(
        rule_id=rule_id,
        rule_name=title,
        title=_first_line(title),
        description=f"Secret detected: {category}" if category else "",
        severity=severity_from_trivy(
            shape.text(item.get("Severity"), f"{path}.Severity", max_length=20)
        ),
        finding_type=FindingType.SECRET,
        fingerprint=trivy_secret_fingerprint(rule_id, context.target, start_line or 0, match),
        confidence=_CONFIDENCE,
        file_path=context.target,
        start_line=start_line,
        end_line=shape.integer(item.get("EndLine"), f"{path}.EndLine"),
        snippet=_TRIVY_MASK.sub(MASK, match) if _TRIVY_MASK.search(match) else "",
        metadata=metadata,
    )
    return conceal(finding)


def _package(item: dict, path: str, context: _Context) -> ReportDependency:
    # Present with --list-all-pkgs: the target's dependency snapshot.
    identifier = item.get("Identifier")
    purl = identifier.get("PURL") if isinstance(identifier, dict) else None
    purl = purl if isinstance(purl, str) else ""
    relationship = shape.text(item.get("Relationship"), f"{path}.Relationship", max_length=50)
    if relationship == "indirect" or item.get("Indirect") is True:
        relationship = "transitive"
    return ReportDependency(
        name=shape.text(item.get("Name"), f"{path}.Name", required=True, max_length=500),
        version=shape.text(item.get("Version"), f"{path}.Version", max_length=200),
        ecosystem=(purl.removeprefix("pkg:").split("/", 1)[0] if purl else "")
        or context.result_type,
        purl=purl,
        licenses=shape.strings(item.get("Licenses"), f"{path}.Licenses"),
        relationship=relationship if relationship in ("direct", "transitive") else "unknown",
        depends_on=shape.strings(item.get("DependsOn"), f"{path}.DependsOn"),
        path=shape.text(item.get("FilePath"), f"{path}.FilePath", max_length=1024)
        or shape.text(item.get("PkgPath"), f"{path}.PkgPath", max_length=1024)
        or context.target,
    )


def _best_cvss(value: Any, path: str) -> tuple[float | None, str, str]:
    cvss = shape.obj(value, path, required=False)
    ordered = [s for s in _CVSS_SOURCES if s in cvss] + [s for s in cvss if s not in _CVSS_SOURCES]
    for source in ordered:
        data = shape.obj(cvss[source], f"{path}.{source}")
        for version in ("V3", "V2"):
            score = shape.number(
                data.get(f"{version}Score"),
                f"{path}.{source}.{version}Score",
                minimum=0,
                maximum=10,
            )
            if score:
                vector = shape.text(
                    data.get(f"{version}Vector"), f"{path}.{source}.{version}Vector", max_length=200
                )
                return score, vector, source
    return None, "", ""


def _cwe_ids(value: Any, path: str, warnings: list[str]) -> list[str]:
    found: list[str] = []
    for i, raw in enumerate(shape.array(value, path)):
        # NVD's placeholders (NVD-CWE-Other, NVD-CWE-noinfo) say "no CWE", not a bad file.
        if isinstance(raw, str) and raw.upper().startswith("NVD-CWE-"):
            continue
        try:
            cwe = shape.cwe(raw, f"{path}[{i}]")
        except ReportError as exc:
            warnings.append(str(exc))
            continue
        if cwe not in found:
            found.append(cwe)
    return found


def _references(item: dict, path: str) -> list[str]:
    primary = shape.text(item.get("PrimaryURL"), f"{path}.PrimaryURL", max_length=2048)
    urls = [primary, *shape.strings(item.get("References"), f"{path}.References")]
    return list(dict.fromkeys(url for url in urls if url))


def _layer(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        return {}
    layer = {k: v for k, v in value.items() if k in ("Digest", "DiffID") and isinstance(v, str)}
    return {"layer": layer} if layer else {}


def _cause_lines(code: Any) -> str:
    lines = code.get("Lines") if isinstance(code, dict) else None
    if not isinstance(lines, list):
        return ""
    return "\n".join(
        str(line.get("Content", ""))
        for line in lines
        if isinstance(line, dict) and line.get("IsCause")
    )


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else stripped
