"""Nuclei results: JSON lines (`-jsonl`, one result a line) or a JSON array (`-json-export`).

Both spellings of nuclei's keys are read: today's `template-id`, `matched-at`,
`matcher-name`, `extracted-results` and the pre-2.8 `templateID`, `matched`,
`matcher_name`, `extracted_results`. An empty file is a valid run with no results.

Decisions a caller must know:

* Each result is one vulnerability finding: rule = template id, title = `info.name`,
  url = the matched location (else the host), severity = `info.severity` (`unknown` or
  missing is info).
* Fingerprint: the reference SDK's nuclei formula, sha256 of
  `template|host|matched|matcher` over the raw values.
* Target: when every result's host names the same machine (host name without scheme
  or port), the report carries it as its one target; otherwise there is none and each
  finding's url tells where it was found.
* Request, response and `curl-command` are not kept: they are bulky and may carry the
  scanned site's session cookies.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from findings.rules.fingerprint import nuclei_fingerprint
from findings.rules.severity import Severity, normalize_severity
from ingest.parsers import shape
from ingest.parsers.detect import decode_json_lines
from protocol.report import Report, ReportError, ReportFinding, ReportTarget

FORMAT = "nuclei"

_TEMPLATE_KEYS = ("template-id", "templateID")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_CWE = re.compile(r"^cwe[-_ ]?0*(\d+)$", re.IGNORECASE)
# Detection is a cheap look at the first records, not a validation of every line.
_SAMPLE = 20


def recognizes(document: object) -> bool:
    if not isinstance(document, list) or not document:
        return False
    return all(
        isinstance(item, dict)
        and any(isinstance(item.get(key), str) for key in _TEMPLATE_KEYS)
        and isinstance(item.get("info"), dict)
        for item in document[:_SAMPLE]
    )


def parse(raw: bytes | str) -> Report:
    return _report(decode_json_lines(raw))


def from_document(document: Any) -> Report:
    items = shape.array(document, "body", required=True)
    return _report([(f"[{i}]", item) for i, item in enumerate(items)])


def _report(records: list[tuple[str, Any]]) -> Report:
    report = Report(tool_name=FORMAT)
    hosts = set()
    for where, item in records:
        finding, host = _finding(item, where)
        report.findings.append(finding)
        hosts.add(host)
    if len(hosts) == 1 and (host := hosts.pop()):
        report.targets.append(ReportTarget(identifier=host))
    return report


def _finding(item: Any, where: str) -> tuple[ReportFinding, str]:
    result = shape.obj(item, where)
    template = _first_text(result, where, "template-id", "templateID", required=True)
    info = shape.obj(result.get("info"), f"{where}.info")
    host = shape.text(result.get("host"), f"{where}.host", max_length=4096)
    matched = _first_text(result, where, "matched-at", "matched")
    matcher = _first_text(result, where, "matcher-name", "matcher_name")
    name = shape.text(info.get("name"), f"{where}.info.name", max_length=1000) or template

    finding = ReportFinding(
        rule_id=template,
        title=name,
        severity=_severity(info.get("severity"), f"{where}.info.severity"),
        description=shape.text(info.get("description"), f"{where}.info.description"),
        rule_name=name,
        fingerprint=nuclei_fingerprint(template, host, matched, matcher),
        url=matched or host,
        references=_references(info.get("reference"), f"{where}.info.reference"),
    )
    _classification(finding, info, f"{where}.info.classification")
    extracted = result.get("extracted-results", result.get("extracted_results"))
    details = {
        "type": result.get("type"),
        "host": host,
        "ip": result.get("ip"),
        "port": result.get("port"),
        "matcher_name": matcher,
        "extracted_results": extracted,
        "tags": _words(info.get("tags")),
        "author": _words(info.get("author")),
        "remediation": info.get("remediation"),
        "timestamp": result.get("timestamp"),
    }
    finding.metadata = {key: value for key, value in details.items() if value}
    return finding, _machine(host or matched)


def _first_text(result: dict, where: str, new: str, old: str, *, required: bool = False) -> str:
    key = new if new in result else old
    value = shape.text(result.get(key), f"{where}.{key}", max_length=4096)
    if required and not value:
        raise ReportError("is required", path=f"{where}.{new}")
    return value


def _severity(value: Any, path: str) -> Severity:
    if value is None:
        return Severity.INFO
    if not isinstance(value, str):
        raise ReportError("must be a string", path=path)
    # nuclei's own words are info/low/medium/high/critical and "unknown".
    return normalize_severity(value) or Severity.INFO


def _classification(finding: ReportFinding, info: dict, path: str) -> None:
    classification = shape.obj(info.get("classification"), path, required=False)
    cves = [c.upper() for c in _words(classification.get("cve-id")) if _CVE.fullmatch(c)]
    finding.cve_id = cves[0] if cves else ""
    if len(cves) > 1:
        finding.metadata["cve_ids"] = cves
    cwes = [m[1] for c in _words(classification.get("cwe-id")) if (m := _CWE.match(c))]
    finding.cwe_ids = list(dict.fromkeys(f"CWE-{int(n)}" for n in cwes))
    score = classification.get("cvss-score")
    if isinstance(score, str):
        try:
            score = float(score)
        except ValueError:
            raise ReportError("must be a number", path=f"{path}.cvss-score") from None
    finding.cvss_score = shape.number(score, f"{path}.cvss-score", minimum=0, maximum=10)
    finding.cvss_vector = shape.text(classification.get("cvss-metrics"), f"{path}.cvss-metrics")
    epss = classification.get("epss-score")
    if isinstance(epss, int | float) and not isinstance(epss, bool) and 0 <= epss <= 1:
        finding.epss_score = float(epss)


def _references(value: Any, path: str) -> list[str]:
    # Old templates give one YAML-ish string ("- url\n- url"), new ones a list.
    if isinstance(value, str):
        items = [line.strip().removeprefix("- ").strip() for line in value.splitlines()]
    else:
        items = [shape.text(v, f"{path}[{i}]") for i, v in enumerate(shape.array(value, path))]
    return list(dict.fromkeys(item for item in items if item))


def _words(value: Any) -> list[str]:
    """A nuclei list field, written as a list or as one comma-separated string."""
    if isinstance(value, str):
        return [word.strip() for word in value.split(",") if word.strip()]
    if isinstance(value, list):
        return [word.strip() for word in value if isinstance(word, str) and word.strip()]
    return []


def _machine(location: str) -> str:
    if not location:
        return ""
    try:
        parts = urlsplit(location if "://" in location else f"//{location}")
        return (parts.hostname or "").rstrip(".")
    except ValueError:  # an unparsable host (bad IPv6 literal) names no machine
        return ""
