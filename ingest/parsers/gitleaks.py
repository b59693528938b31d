"""Gitleaks' JSON report: an array of leaks, or `null` when there are none.

Two generations share the format name:

* gitleaks 8: `RuleID`, `Description`, `File`, `StartLine`/`EndLine`, `StartColumn`/
  `EndColumn`, `Match`, `Secret`, `Commit`, `Author`, `Email`, `Date`, `Tags[]`,
  `Entropy` and, since 8.x, `Fingerprint` (`commit:file:rule:line`);
* gitleaks 7 and older: `rule` (a name), `file`, `line` (the whole line), `lineNumber`
  (not always), `offender`, `commit`, `author`, `email`, `date`, `tags` (a string).

The raw secret is never part of the report's stored fields: it goes into the
fingerprint (the SDK's secret formula when gitleaks gave no `Fingerprint`; the server
keys it, ingest/secrets.py) and into `secret_values`, and the matched line is kept with
the secret replaced by the fixed mask (ingest/parsers/credentials.py). Every leak is
high, as in the SDK.
"""

from __future__ import annotations

from typing import Any

from findings.rules.categories import FindingType
from findings.rules.fingerprint import gitleaks_fingerprint
from findings.rules.severity import GITLEAKS_SEVERITY
from ingest.parsers import shape
from ingest.parsers.credentials import MASK, conceal
from protocol.report import Report, ReportError, ReportFinding

FORMAT = "gitleaks"


def recognizes(document: object) -> bool:
    if not isinstance(document, list) or not document or not isinstance(document[0], dict):
        return False
    first = document[0]
    return "RuleID" in first or ("rule" in first and "offender" in first)


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    leaks = shape.array(document, "body")
    return Report(
        tool_name=FORMAT,
        findings=[_finding(shape.obj(item, f"[{i}]"), f"[{i}]") for i, item in enumerate(leaks)],
    )


def _finding(item: dict, path: str) -> ReportFinding:
    if "RuleID" in item:
        return _leak_v8(item, path)
    if "rule" in item:
        return _leak_v7(item, path)
    raise ReportError("is required", path=f"{path}.RuleID")


def _leak_v8(item: dict, path: str) -> ReportFinding:
    rule_id = shape.text(item.get("RuleID"), f"{path}.RuleID", required=True, max_length=200)
    file_path = shape.text(item.get("File"), f"{path}.File", max_length=1024)
    start_line = shape.integer(item.get("StartLine"), f"{path}.StartLine")
    secret = shape.text(item.get("Secret"), f"{path}.Secret")
    match = shape.text(item.get("Match"), f"{path}.Match")
    description = shape.text(item.get("Description"), f"{path}.Description", max_length=500)
    tags = shape.strings(item.get("Tags"), f"{path}.Tags")
    entropy = shape.number(item.get("Entropy"), f"{path}.Entropy")
    details = {
        "commit": shape.text(item.get("Commit"), f"{path}.Commit", max_length=200),
        "author": shape.text(item.get("Author"), f"{path}.Author", max_length=500),
        "email": shape.text(item.get("Email"), f"{path}.Email", max_length=500),
        "date": shape.text(item.get("Date"), f"{path}.Date", max_length=100),
        "link": shape.text(item.get("Link"), f"{path}.Link", max_length=2048),
        "symlink_file": shape.text(item.get("SymlinkFile"), f"{path}.SymlinkFile"),
    }
    return _secret_finding(
        rule_id=rule_id,
        name=description,
        file_path=file_path,
        start_line=start_line,
        end_line=shape.integer(item.get("EndLine"), f"{path}.EndLine"),
        start_column=shape.integer(item.get("StartColumn"), f"{path}.StartColumn"),
        end_column=shape.integer(item.get("EndColumn"), f"{path}.EndColumn"),
        secret=secret,
        context=match,
        tool_fingerprint=shape.text(
            item.get("Fingerprint"), f"{path}.Fingerprint", max_length=2048
        ),
        entropy=entropy,
        tags=tags,
        details=details,
    )


def _leak_v7(item: dict, path: str) -> ReportFinding:
    rule = shape.text(item.get("rule"), f"{path}.rule", required=True, max_length=200)
    tags = shape.text(item.get("tags"), f"{path}.tags", max_length=2000)
    details = {
        "commit": shape.text(item.get("commit"), f"{path}.commit", max_length=200),
        "repo": shape.text(item.get("repo"), f"{path}.repo", max_length=1024),
        "author": shape.text(item.get("author"), f"{path}.author", max_length=500),
        "email": shape.text(item.get("email"), f"{path}.email", max_length=500),
        "date": shape.text(item.get("date"), f"{path}.date", max_length=100),
        "link": shape.text(item.get("leakURL"), f"{path}.leakURL", max_length=2048),
    }
    start_line = shape.integer(item.get("lineNumber"), f"{path}.lineNumber")
    return _secret_finding(
        rule_id=rule,
        name=rule,
        file_path=shape.text(item.get("file"), f"{path}.file", max_length=1024),
        start_line=start_line,
        end_line=start_line,
        start_column=None,
        end_column=None,
        secret=shape.text(item.get("offender"), f"{path}.offender"),
        context=shape.text(item.get("line"), f"{path}.line"),
        tool_fingerprint="",
        entropy=None,
        tags=[t.strip() for t in tags.split(",") if t.strip()],
        details=details,
    )


def _secret_finding(
    *,
    rule_id: str,
    name: str,
    file_path: str,
    start_line: int | None,
    end_line: int | None,
    start_column: int | None,
    end_column: int | None,
    secret: str,
    context: str,
    tool_fingerprint: str,
    entropy: float | None,
    tags: list[str],
    details: dict[str, str],
) -> ReportFinding:
    secret_detail: dict[str, Any] = {"secret_type": name or rule_id}
    if entropy:
        secret_detail["entropy"] = entropy
    metadata: dict[str, Any] = {"secret": secret_detail}
    metadata |= {key: value for key, value in details.items() if value}
    if tags:
        metadata["tags"] = tags
    where = f" in {file_path}" if file_path else ""
    finding = ReportFinding(
        rule_id=rule_id,
        rule_name=name,
        title=f"{name or rule_id} secret{where}",
        description=f"Gitleaks rule {rule_id!r} matched a secret{where}."
        + (f" Commit {details['commit']}." if details.get("commit") else ""),
        severity=GITLEAKS_SEVERITY,
        finding_type=FindingType.SECRET,
        fingerprint=gitleaks_fingerprint(
            tool_fingerprint=tool_fingerprint,
            path=file_path,
            rule_id=rule_id,
            start_line=start_line or 0,
            secret=secret,
        ),
        file_path=file_path,
        start_line=start_line,
        end_line=end_line,
        start_column=start_column,
        end_column=end_column,
        snippet=_masked_context(context, secret),
        metadata=metadata,
        secret_values=[secret] if secret else [],
    )
    return conceal(finding)


def _masked_context(context: str, secret: str) -> str:
    # The matched line helps triage only once the secret in it is masked; when we cannot
    # find the secret in it (or have none), the line may be nothing but the secret.
    if not context or not secret or secret not in context:
        return ""
    return context.replace(secret, MASK)
