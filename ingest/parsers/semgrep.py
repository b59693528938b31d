"""Semgrep's own JSON output (`semgrep --json`): `version`, `results[]`, `errors[]`.

Each result is one finding: `check_id`, `path`, `start`/`end` {line, col} and `extra`
{message, severity, metadata, lines, fingerprint, is_ignored}.

Severity: one per rule whether semgrep wrote JSON or SARIF (`severity_from_semgrep`): the
rule's numeric `security-severity` (also kept as `cvss_score`, as SARIF does) else its
severity word read as the SARIF level semgrep writes for it (CRITICAL/HIGH/ERROR high,
MEDIUM/WARNING medium, LOW/INFO low). `metadata.impact`, which the reference SDK ranks
first, is kept in metadata but decides nothing: semgrep's SARIF does not carry it.

Fingerprint: semgrep's own `extra.fingerprint` survives a line move, so it is kept when it
is a real hash (`<hex>_<n>`, n counting identical matches in one file); semgrep OSS may
answer "requires login" instead, and then the SDK's sast formula with end line 0 applies
(findings/rules/fingerprint.py, `semgrep_fingerprint`).

Secrets: a rule of hard-coded credentials (CWE-798/259/321) or a secret-detection rule
(a `secrets` segment in its id, `category`/`subcategory`/`technology` "secrets") finds
a secret (ingest/parsers/credentials.py), with or without a CWE tag: its matched lines
are not kept, and it keeps the fingerprint above.
"""

from __future__ import annotations

from typing import Any

from findings.rules.categories import FindingType
from findings.rules.fingerprint import semgrep_fingerprint
from findings.rules.severity import security_severity_score, severity_from_semgrep
from ingest.parsers import shape
from ingest.parsers.credentials import as_secret, conceal, finds_secret, labels_of
from protocol.report import Report, ReportError, ReportFinding

FORMAT = "semgrep"

# Semgrep OSS fills login-only fields with this placeholder instead of leaving them out.
_LOGIN_PLACEHOLDER = "requires login"
_CONFIDENCE = {"HIGH": 80, "MEDIUM": 60, "LOW": 40}
_TITLE_LENGTH = 200
# Rule metadata a security engineer filters or triages on; the rest is rule bookkeeping.
_KEPT_METADATA = (
    "category",
    "subcategory",
    "technology",
    "owasp",
    "likelihood",
    "impact",
    "confidence",
    "vulnerability_class",
    "bandit-code",
    "security-severity",
)
_MAX_SCAN_ERRORS = 50


def recognizes(document: object) -> bool:
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        return False
    results = document["results"]
    if results:
        first = results[0]
        return isinstance(first, dict) and "check_id" in first and "extra" in first
    # An empty run: bandit and detect-secrets also write `results`, with their own siblings.
    return "errors" in document and not {"metrics", "generated_at", "plugins_used"} & set(document)


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    document = shape.obj(document, "body")
    warnings: list[str] = []
    findings = [
        _finding(item, f"results[{i}]", warnings)
        for i, item in enumerate(shape.array(document.get("results"), "results", required=True))
    ]
    metadata: dict[str, Any] = {}
    errors = document.get("errors")
    if isinstance(errors, list) and errors:
        metadata["scan_errors"] = [_scan_error(e) for e in errors[:_MAX_SCAN_ERRORS]]
    return Report(
        tool_name=FORMAT,
        tool_version=shape.text(document.get("version"), "version", max_length=100),
        findings=findings,
        metadata=metadata,
        warnings=warnings,
    )


def _finding(item: Any, path: str, warnings: list[str]) -> ReportFinding:
    item = shape.obj(item, path)
    rule_id = shape.text(item.get("check_id"), f"{path}.check_id", required=True, max_length=500)
    file_path = shape.text(item.get("path"), f"{path}.path", required=True, max_length=1024)
    start = shape.obj(item.get("start"), f"{path}.start")
    end = shape.obj(item.get("end"), f"{path}.end", required=False)
    start_line = shape.integer(start.get("line"), f"{path}.start.line", minimum=1)
    if start_line is None:
        raise ReportError("is required", path=f"{path}.start.line")
    extra = shape.obj(item.get("extra"), f"{path}.extra", required=False)
    rule_meta = shape.obj(extra.get("metadata"), f"{path}.extra.metadata", required=False)
    message = shape.text(extra.get("message"), f"{path}.extra.message") or rule_id
    tool_fingerprint = shape.text(
        extra.get("fingerprint"), f"{path}.extra.fingerprint", max_length=512
    )
    snippet = shape.text(extra.get("lines"), f"{path}.extra.lines")

    metadata = {key: rule_meta[key] for key in _KEPT_METADATA if rule_meta.get(key)}
    if isinstance(extra.get("fix"), str):
        metadata["remediation"] = {"recommendation": extra["fix"], "auto_fixable": True}
    if isinstance(rule_meta.get("source"), str):
        metadata["rule_url"] = rule_meta["source"]

    cwe_ids = _cwe_ids(rule_meta.get("cwe"), f"{path}.extra.metadata.cwe", warnings)
    severity_word = _word(extra.get("severity"))
    if severity_word:
        metadata["rule_severity"] = severity_word
    is_secret = finds_secret(FORMAT, rule_id, cwe_ids, *labels_of(rule_meta))
    finding = ReportFinding(
        rule_id=rule_id,
        title=_one_line(message),
        description=message.strip(),
        severity=severity_from_semgrep(severity_word, rule_meta.get("security-severity")),
        cvss_score=security_severity_score(rule_meta.get("security-severity")),
        finding_type=FindingType.VULNERABILITY,
        fingerprint=semgrep_fingerprint(
            tool_fingerprint=tool_fingerprint,
            path=file_path,
            rule_id=rule_id,
            start_line=start_line,
        ),
        confidence=_CONFIDENCE.get(_word(rule_meta.get("confidence")).upper()),
        file_path=file_path,
        start_line=start_line,
        end_line=shape.integer(end.get("line"), f"{path}.end.line", minimum=1),
        start_column=shape.integer(start.get("col"), f"{path}.start.col", minimum=1),
        end_column=shape.integer(end.get("col"), f"{path}.end.col", minimum=1),
        snippet="" if is_secret or snippet == _LOGIN_PLACEHOLDER else snippet,
        cwe_ids=cwe_ids,
        references=_references(rule_meta),
        metadata=metadata,
        # `is_ignored` is semgrep's own nosemgrep suppression (shown with --disable-nosem).
        suppressed=extra.get("is_ignored") is True,
    )
    if is_secret:
        as_secret(finding)
    return conceal(finding)


def _one_line(message: str) -> str:
    # Semgrep hard-wraps rule messages, so the first line alone is often half a sentence.
    line = " ".join(message.split())
    if len(line) <= _TITLE_LENGTH:
        return line
    sentence_end = line.find(". ", 0, _TITLE_LENGTH)
    if sentence_end > 0:
        return line[: sentence_end + 1]
    return line[: _TITLE_LENGTH - 1].rstrip() + "…"


def _cwe_ids(value: Any, path: str, warnings: list[str]) -> list[str]:
    # Rule metadata is free-form: a CWE we cannot read is reported, not fatal.
    values = value if isinstance(value, list) else [value] if value else []
    found: list[str] = []
    for i, raw in enumerate(values):
        try:
            cwe = shape.cwe(raw, f"{path}[{i}]" if isinstance(value, list) else path)
        except ReportError as exc:
            warnings.append(str(exc))
            continue
        if cwe not in found:
            found.append(cwe)
    return found


def _references(rule_meta: dict) -> list[str]:
    refs = rule_meta.get("references")
    refs = refs if isinstance(refs, list) else [refs]
    urls = [r for r in (*refs, rule_meta.get("source-rule-url")) if isinstance(r, str) and r]
    return list(dict.fromkeys(urls))


def _scan_error(error: Any) -> dict[str, str]:
    if not isinstance(error, dict):
        return {"message": str(error)[:500]}
    message = str(error.get("message", "")).strip().splitlines()
    return {
        "type": str(error.get("type", ""))[:200],
        "level": str(error.get("level", "")),
        "path": str(error.get("path", "")),
        "message": message[0][:500] if message else "",
    }


def _word(value: Any) -> str:
    return value if isinstance(value, str) else ""
