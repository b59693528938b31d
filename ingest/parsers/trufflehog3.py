"""trufflehog3, the Python secret scanner (`trufflehog3 -f JSON`): a JSON array of issues.

Two generations share the format name:

* trufflehog3 3.x: `rule` {id, message, severity, pattern?}, `path`, `line` (a number as
  text), `secret`, `context` {line number: text}, `id` (its issue id) and, for an issue
  found in the git history, `branch`, `message` (the commit's), `author`, `commit`,
  `date`; those are null for the working tree.
* the legacy format (truffleHog 2's): `path`, `reason`, `stringsFound` (whole diff lines,
  the secret somewhere in each), `commitHash`, `commit` (the message), `branch`, `date`.

Decisions a caller must know:

* The secret never enters the report's stored fields. It is folded into the fingerprint
  (keyed by the server, ingest/secrets.py), held in `secret_values`, and shown only as
  the fixed mask (ingest/parsers/credentials.py): no prefix, no length.
* Snippet: the matched line alone, with every secret the report found on it masked; never
  the neighbouring context lines (they may hold the rest of a key), and nothing at all when
  the rule, its match or the line speaks of a private key (a header's body may follow on
  the same line).
* Fingerprint: trufflehog3's issue id, a UUID of the rule, the path and the secret: the
  same when the line moves and for the working tree and the git history alike, so one
  secret in one file is one finding. Without a well-formed id, the reference SDK's secret
  formula (path, rule, line, sha256(secret)[:16]).
* Severity: the rule's own (HIGH, MEDIUM, LOW); medium, trufflehog3's default for a
  rule, when the issue has none (the legacy format never has).
* Legacy issues: one finding per string found, rule = the reason as an id (`high-entropy`),
  no line number. The string cannot be told apart from the secret in it, so nothing of it
  is kept; it is fingerprinted without its diff marker, so a line added in one commit and
  removed in another is one finding.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from findings.rules.categories import FindingType
from findings.rules.fingerprint import secret_fingerprint
from findings.rules.severity import Severity, normalize_severity
from ingest.parsers import shape
from ingest.parsers.credentials import MASK, conceal
from protocol.report import Report, ReportError, ReportFinding

FORMAT = "trufflehog3"

_SAMPLE = 20
_DEFAULT_SEVERITY = Severity.MEDIUM
# A private key's rule (trufflehog3's "Private Key", "PGP Private Key Block"), its header
# in a line, or its words in the match: key material, of which nothing is shown.
_PRIVATE_KEY = re.compile(r"PRIVATE\s+KEY", re.IGNORECASE)
_DIFF_MARKER = re.compile(r"^[+-]")
# Metadata of a git-history issue: (key in the issue, key in the finding's metadata).
_COMMIT_FIELDS = (
    ("commit", "commit"),
    ("branch", "branch"),
    ("author", "author"),
    ("date", "commit_date"),
)


def recognizes(document: object) -> bool:
    if not isinstance(document, list) or not document:
        return False
    return all(_is_issue(item) for item in document[:_SAMPLE])


def _is_issue(item: object) -> bool:
    if not isinstance(item, dict) or "path" not in item:
        return False
    current = isinstance(item.get("rule"), dict) and "secret" in item
    return current or isinstance(item.get("stringsFound"), list)


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    issues = shape.array(document, "body", required=True)
    records = [(shape.obj(item, f"[{i}]"), f"[{i}]") for i, item in enumerate(issues)]
    # Every secret found on a line, so that the line shown for one of them masks all.
    on_line: dict[str, set[str]] = {}
    for issue, where in records:
        if not _is_legacy(issue):
            line, secret = _matched_line(issue, where)
            if line and secret:
                on_line.setdefault(line, set()).add(secret)
    report = Report(tool_name=FORMAT)
    for issue, where in records:
        if _is_legacy(issue):
            report.findings.extend(_legacy_findings(issue, where))
        else:
            report.findings.append(_finding(issue, where, on_line))
    return report


def _is_legacy(issue: dict) -> bool:
    return "stringsFound" in issue and not isinstance(issue.get("rule"), dict)


def _matched_line(issue: dict, where: str) -> tuple[str, str]:
    secret = shape.text(issue.get("secret"), f"{where}.secret")
    line = _line_number(issue.get("line"), f"{where}.line")
    context = shape.obj(issue.get("context"), f"{where}.context", required=False)
    text = context.get(str(line)) if line is not None else None
    return (text if isinstance(text, str) else ""), secret


def _finding(issue: dict, where: str, on_line: dict[str, set[str]]) -> ReportFinding:
    rule = shape.obj(issue.get("rule"), f"{where}.rule")
    rule_id = shape.text(rule.get("id"), f"{where}.rule.id", required=True, max_length=200)
    name = shape.text(rule.get("message"), f"{where}.rule.message", max_length=500) or rule_id
    pattern = shape.text(rule.get("pattern"), f"{where}.rule.pattern", max_length=2000)
    severity = _severity(rule.get("severity"), f"{where}.rule.severity")
    file_path = shape.text(issue.get("path"), f"{where}.path", required=True, max_length=1024)
    line = _line_number(issue.get("line"), f"{where}.line")
    matched, secret = _matched_line(issue, where)
    key_material = any(_PRIVATE_KEY.search(text) for text in (name, pattern, secret, matched))
    metadata: dict[str, Any] = {"secret": {"secret_type": name}}
    if pattern:
        metadata["rule_pattern"] = pattern
    for key, name_in_metadata in _COMMIT_FIELDS:
        if value := shape.text(issue.get(key), f"{where}.{key}", max_length=500):
            metadata[name_in_metadata] = value
    if subject := _subject(shape.text(issue.get("message"), f"{where}.message")):
        metadata["commit_message"] = subject
    at = f" at line {line}" if line else ""
    commit = metadata.get("commit")
    finding = ReportFinding(
        rule_id=rule_id,
        rule_name=name,
        title=f"{name} in {file_path}",
        description=f"trufflehog3 rule {rule_id!r} matched a secret in {file_path}{at}"
        + (f" in commit {commit}." if commit else "."),
        severity=severity,
        finding_type=FindingType.SECRET,
        fingerprint=_tool_id(issue.get("id"))
        or secret_fingerprint(path=file_path, rule_id=rule_id, start_line=line or 0, secret=secret),
        file_path=file_path,
        start_line=line,
        end_line=line,
        snippet="" if key_material else _masked_line(matched, secret, on_line),
        metadata=metadata,
        secret_values=[secret] if secret else [],
    )
    return conceal(finding)


def _legacy_findings(issue: dict, where: str) -> list[ReportFinding]:
    reason = shape.text(issue.get("reason"), f"{where}.reason", max_length=200) or "High entropy"
    rule_id = "-".join(reason.lower().split())
    file_path = shape.text(issue.get("path"), f"{where}.path", required=True, max_length=1024)
    strings = shape.strings(issue.get("stringsFound"), f"{where}.stringsFound")
    metadata: dict[str, Any] = {"secret": {"secret_type": reason}}
    for key, name in (("commitHash", "commit"), ("branch", "branch"), ("date", "commit_date")):
        if value := shape.text(issue.get(key), f"{where}.{key}", max_length=500):
            metadata[name] = value
    # The legacy `commit` is the commit's message, not its hash.
    if subject := _subject(shape.text(issue.get("commit"), f"{where}.commit")):
        metadata["commit_message"] = subject
    commit = metadata.get("commit")
    findings = []
    for found in strings:
        line = _DIFF_MARKER.sub("", found).strip()
        finding = ReportFinding(
            rule_id=rule_id,
            rule_name=reason,
            title=f"{reason} in {file_path}",
            description=f"trufflehog3 found a secret ({reason.lower()}) in {file_path}"
            + (f" in commit {commit}." if commit else "."),
            severity=_DEFAULT_SEVERITY,
            finding_type=FindingType.SECRET,
            fingerprint=secret_fingerprint(path=file_path, rule_id=rule_id, secret=line),
            file_path=file_path,
            metadata={**metadata, "secret": dict(metadata["secret"])},
            secret_values=[found, line],
        )
        findings.append(conceal(finding))
    return findings


def _line_number(value: Any, path: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        # trufflehog3 writes the line number as text.
        if not (value.isascii() and value.isdecimal()):
            raise ReportError(f"{value!r} is not a line number", path=path)
        value = int(value)
    number = shape.integer(value, path)
    return number or None  # 0: no line


def _severity(value: Any, path: str) -> Severity:
    if value is None or value == "":
        return _DEFAULT_SEVERITY
    word = shape.text(value, path, max_length=20)
    found = normalize_severity(word)
    if found is None:
        raise ReportError(f"{word!r} is not a trufflehog3 severity (HIGH, MEDIUM, LOW)", path=path)
    return found


def _tool_id(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return ""


def _masked_line(line: str, secret: str, on_line: dict[str, set[str]]) -> str:
    # A line we cannot find the secret in may hold it in another form: keep none.
    if not line or not secret or secret not in line:
        return ""
    # Longest first: a secret inside another one must not leave the rest of it showing.
    for found in sorted(on_line.get(line, {secret}), key=len, reverse=True):
        line = line.replace(found, MASK)
    return line


def _subject(message: str) -> str:
    lines = message.strip().splitlines()
    return lines[0][:500] if lines else ""
