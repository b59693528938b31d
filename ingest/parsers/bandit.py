"""Bandit's JSON output (`bandit -f json`): `errors`, `generated_at`, `metrics`, `results[]`.

Each result names `test_id` (B101…), `filename`, `line_number`/`line_range`, the issue's
severity and confidence (LOW/MEDIUM/HIGH/UNDEFINED), `issue_text`, `code` and, since
bandit 1.7.5, `issue_cwe` and 0-based `col_offset`/`end_col_offset`.

Bandit has no finding id of its own, so `fingerprint` stays empty and the pipeline applies
the shared sast formula (path, rule, start and end line).

The password checks (B105–B107) are secrets (ingest/parsers/credentials.py): bandit quotes
the password in its message and shows it in its code lines, so the quoted value is masked,
the code is not kept, and the finding keeps the sast identity it had as a vulnerability.

Severity: HIGH high, MEDIUM medium, LOW low, and UNDEFINED medium, because bandit's own
SARIF writes UNDEFINED as `warning`: one severity per rule whichever format bandit wrote.
"""

from __future__ import annotations

from typing import Any

from findings.rules.categories import FindingType
from findings.rules.severity import Severity, normalize_severity
from ingest.parsers import shape
from ingest.parsers.credentials import as_secret, conceal, finds_secret, quoted_values
from protocol.report import Report, ReportError, ReportFinding

FORMAT = "bandit"

# Same scale as the SDK's CodeQL precision (high 80, medium 60, low 40).
_CONFIDENCE = {"HIGH": 80, "MEDIUM": 60, "LOW": 40}
_UNDEFINED = "UNDEFINED"
_MAX_SCAN_ERRORS = 50


def recognizes(document: object) -> bool:
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        return False
    results = document["results"]
    if results:
        first = results[0]
        return isinstance(first, dict) and "test_id" in first and "issue_severity" in first
    return isinstance(document.get("metrics"), dict) and "generated_at" in document


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    document = shape.obj(document, "body")
    findings = [
        _finding(item, f"results[{i}]")
        for i, item in enumerate(shape.array(document.get("results"), "results", required=True))
    ]
    metadata: dict[str, Any] = {}
    errors = document.get("errors")
    if isinstance(errors, list) and errors:
        # Files bandit could not parse were not scanned: the engineer needs their names.
        metadata["scan_errors"] = [
            {"path": str(e.get("filename", "")), "message": str(e.get("reason", ""))[:500]}
            for e in errors[:_MAX_SCAN_ERRORS]
            if isinstance(e, dict)
        ]
    return Report(
        tool_name=FORMAT,
        finished_at=shape.timestamp(document.get("generated_at"), "generated_at"),
        findings=findings,
        metadata=metadata,
    )


def _finding(item: Any, path: str) -> ReportFinding:
    item = shape.obj(item, path)
    rule_id = shape.text(item.get("test_id"), f"{path}.test_id", required=True, max_length=100)
    file_path = shape.text(item.get("filename"), f"{path}.filename", required=True, max_length=1024)
    start_line = shape.integer(item.get("line_number"), f"{path}.line_number", minimum=1)
    if start_line is None:
        raise ReportError("is required", path=f"{path}.line_number")
    line_range = [
        shape.integer(n, f"{path}.line_range[{i}]", minimum=1)
        for i, n in enumerate(shape.array(item.get("line_range"), f"{path}.line_range"))
    ]
    text = shape.text(item.get("issue_text"), f"{path}.issue_text") or rule_id
    snippet = shape.text(item.get("code"), f"{path}.code")
    confidence = shape.text(
        item.get("issue_confidence"), f"{path}.issue_confidence", max_length=20
    ).upper()
    more_info = shape.text(item.get("more_info"), f"{path}.more_info", max_length=2048)

    metadata: dict[str, Any] = {}
    if confidence:
        metadata["confidence"] = confidence
    finding = ReportFinding(
        rule_id=rule_id,
        rule_name=shape.text(item.get("test_name"), f"{path}.test_name", max_length=200),
        title=text.strip().splitlines()[0] if text.strip() else rule_id,
        description=text.strip(),
        severity=_severity(item.get("issue_severity"), f"{path}.issue_severity"),
        finding_type=FindingType.VULNERABILITY,
        confidence=_CONFIDENCE.get(confidence),
        file_path=file_path,
        start_line=start_line,
        end_line=max([start_line, *(n for n in line_range if n is not None)]),
        start_column=_one_based(item.get("col_offset"), f"{path}.col_offset"),
        end_column=_one_based(item.get("end_col_offset"), f"{path}.end_col_offset"),
        snippet=snippet,
        cwe_ids=_cwe_ids(item.get("issue_cwe"), f"{path}.issue_cwe"),
        # Kept out of `url`: a finding with a url is fingerprinted as a web (dast) finding.
        references=[more_info] if more_info else [],
        metadata=metadata,
    )
    if finds_secret(FORMAT, rule_id, finding.cwe_ids):
        # The code lines around the password may hold more of it (a key spread over
        # lines): none is kept, as from bandit's SARIF.
        finding.snippet = ""
        as_secret(finding, quoted_values(text))
    return conceal(finding)


def _severity(value: Any, path: str) -> Severity:
    word = shape.text(value, path, required=True, max_length=20)
    if word.upper() == _UNDEFINED:
        return Severity.MEDIUM  # what bandit's SARIF formatter says (`warning`)
    found = normalize_severity(word)
    if found is None:
        raise ReportError(f"{word!r} is not a bandit severity (LOW, MEDIUM, HIGH)", path=path)
    return found


def _one_based(value: Any, path: str) -> int | None:
    # Bandit counts columns from 0 (Python's ast); reports count from 1, as bandit's SARIF does.
    offset = shape.integer(value, path, minimum=None)
    return offset + 1 if offset is not None and offset >= 0 else None


def _cwe_ids(value: Any, path: str) -> list[str]:
    issue_cwe = shape.obj(value, path, required=False)
    cwe_id = issue_cwe.get("id")
    # Bandit writes id 0 when no CWE is mapped to the test.
    if cwe_id in (None, "", 0, "0"):
        return []
    return [shape.cwe(cwe_id, f"{path}.id")]
