"""pip-audit's JSON output (`pip-audit -f json`): the audited Python dependencies and the
known vulnerabilities of each.

Two shapes share the format name:

* pip-audit 2.x: `{"dependencies": [...], "fixes": [...]}`;
* older releases: the bare list of dependencies.

A dependency is `{name, version, vulns: [{id, fix_versions, aliases?, description?}]}`,
or `{name, skip_reason}` when pip-audit could not audit it (not on PyPI, no network…).

Decisions a caller must know:

* Every dependency is one package of the SBOM: ecosystem `pypi`, purl
  `pkg:pypi/<name>@<version>` with the name normalised as PyPI does (PEP 503). A skipped
  one is listed with the version its reason names ("… could not be audited: pyyaml
  (5.3)"), and the report warns that it was not audited.
* Each (dependency, vulnerability) is one SCA finding: rule = pip-audit's id (PYSEC-…,
  GHSA-…); cve = the id when it is a CVE, else the first CVE among the `aliases`; fixed
  version = the lowest of `fix_versions` above the installed version (pip-audit lists
  one per release line: 2.2.25, 3.1.14, 3.2.10 for Django 3.2.9), all of them kept in
  metadata.
* Severity: pip-audit gives none, so medium: the reference SDK's score for an unknown
  severity (5.0) and the middle of the scale, until a feed says more.
* No tool fingerprint: the pipeline computes the sca formula (package, version, vuln id),
  the same as for trivy's or a CycloneDX BOM's report of the same vulnerability.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from findings.rules.severity import Severity
from ingest.parsers import shape
from protocol.report import Report, ReportDependency, ReportFinding

FORMAT = "pip-audit"

_SEVERITY = Severity.MEDIUM
_SAMPLE = 20
_LISTED = 20
_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_PEP503 = re.compile(r"[-_.]+")
_RELEASE = re.compile(r"\d{1,18}(?:\.\d{1,18})*")
_SKIPPED = re.compile(r"(?P<name>[\w.-]+) \((?P<version>[^()\s]{1,200})\)\s*$")
_OSV = "https://osv.dev/vulnerability/{id}"


def recognizes(document: object) -> bool:
    if isinstance(document, dict):
        dependencies = document.get("dependencies")
        if not isinstance(dependencies, list):
            return False
        if not dependencies:
            # An empty audit still says `fixes`; a bare {"dependencies": []} names no tool.
            return isinstance(document.get("fixes"), list)
        return _is_dependency_list(dependencies)
    return isinstance(document, list) and bool(document) and _is_dependency_list(document)


def _is_dependency_list(items: list) -> bool:
    return all(
        isinstance(item, dict)
        and isinstance(item.get("name"), str)
        and (isinstance(item.get("vulns"), list) or isinstance(item.get("skip_reason"), str))
        for item in items[:_SAMPLE]
    )


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    if isinstance(document, dict):
        items = shape.array(document.get("dependencies"), "dependencies", required=True)
        where = "dependencies"
    else:
        items = shape.array(document, "body", required=True)
        where = ""
    report = Report(tool_name=FORMAT)
    skipped = []
    for i, item in enumerate(items):
        path = f"{where}[{i}]"
        entry = shape.obj(item, path)
        name = shape.text(entry.get("name"), f"{path}.name", required=True, max_length=500)
        version = shape.text(entry.get("version"), f"{path}.version", max_length=200)
        reason = shape.text(entry.get("skip_reason"), f"{path}.skip_reason", max_length=2000)
        if reason and not version:
            version = _skipped_version(name, reason)
        report.dependencies.append(
            ReportDependency(
                name=name, version=version, ecosystem="pypi", purl=_purl(name, version)
            )
        )
        if reason:
            skipped.append(reason)
            continue
        vulns = shape.array(entry.get("vulns"), f"{path}.vulns")
        for k, vuln in enumerate(vulns):
            report.findings.append(_finding(vuln, f"{path}.vulns[{k}]", name, version))
    if skipped:
        # The reasons name each package ("... could not be audited: pyyaml (5.3)").
        more = " …" if len(skipped) > _LISTED else ""
        report.warnings.append(
            f"pip-audit could not audit {len(skipped)} of {len(items)} dependencies: "
            + "; ".join(skipped[:_LISTED])
            + more
        )
    return report


def _skipped_version(name: str, reason: str) -> str:
    # pip-audit names what it could not audit as "<name> (<version>)" at the end of the
    # reason; the SBOM keeps the version it read from the environment.
    match = _SKIPPED.search(reason)
    same = match and _PEP503.sub("-", match["name"]).lower() == _PEP503.sub("-", name).lower()
    return match["version"] if match and same else ""


def _finding(item: Any, path: str, name: str, version: str) -> ReportFinding:
    vuln = shape.obj(item, path)
    vuln_id = shape.text(vuln.get("id"), f"{path}.id", required=True, max_length=200)
    aliases = shape.strings(vuln.get("aliases"), f"{path}.aliases")
    fixes = shape.strings(vuln.get("fix_versions"), f"{path}.fix_versions")
    description = shape.text(vuln.get("description"), f"{path}.description").strip()
    cve = _cve(vuln_id, aliases)
    label = f"{name} {version}".strip()
    details: dict[str, Any] = {"purl": _purl(name, version), "source": "pip-audit"}
    if aliases:
        details["aliases"] = aliases
    if fixes:
        details["fix_versions"] = fixes
    return ReportFinding(
        rule_id=vuln_id,
        title=f"{cve or vuln_id} in {label}",
        severity=_SEVERITY,
        description=description,
        cve_id=cve,
        package_name=name,
        package_version=version,
        fixed_version=_fixed_version(version, fixes),
        references=[_OSV.format(id=_escaped(vuln_id, ""))],
        metadata={"vulnerability": details},
    )


def _cve(vuln_id: str, aliases: list[str]) -> str:
    for candidate in (vuln_id, *aliases):
        if _CVE.fullmatch(candidate.strip()):
            return candidate.strip().upper()
    return ""


def _purl(name: str, version: str) -> str:
    # purl's pypi type: the PEP 503 name (lower case, runs of -_. as one -).
    normalized = _PEP503.sub("-", name).lower()
    purl = f"pkg:pypi/{_escaped(normalized, '')}"
    return f"{purl}@{_escaped(version, '.-_~!')}" if version else purl


def _escaped(text: str, safe: str) -> str:
    # errors="replace": a lone surrogate (JSON "\ud800") has no UTF-8 to escape.
    return quote(text, safe=safe, errors="replace")


def _fixed_version(installed: str, fixes: list[str]) -> str:
    """The lowest fix above the installed release, else the first one listed.

    Only the release numbers are compared (3.2.10 > 3.2.9; 20.3.0rc1 counts as 20.3.0):
    enough to pick among one fix per release line without a version library.
    """
    current = _release(installed)
    releases = [(release, fix) for fix in fixes if (release := _release(fix)) is not None]
    above = [pair for pair in releases if current is not None and pair[0] > current]
    if above:
        return min(above)[1]
    return fixes[0] if fixes else ""


def _release(version: str) -> tuple[int, ...] | None:
    # At most 18 digits a number: int() refuses thousands of them, and no release has 19.
    match = _RELEASE.match(version.strip().lstrip("vV"))
    if match is None:
        return None
    # Trailing zeros do not count: 3.2 and 3.2.0 are one release.
    numbers = [int(part) for part in match.group().split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)
