"""detect-secrets' baseline JSON (`detect-secrets scan`): `version`, `plugins_used`,
`filters_used`, `results` {file name: [{type, filename, hashed_secret, is_verified,
line_number, is_secret?}]}, `generated_at`.

The file never holds the secret, only `hashed_secret` (its SHA-1). That hash is a stable
identity of the secret, so `fingerprint` is the SDK's secret formula with it in the
secret's place: a secret that changes at the same line is a new finding, which a
line-only identity would miss (the server keys that fingerprint, ingest/secrets.py).
The hash itself is kept nowhere else (a SHA-1 of a weak password can be reversed).
`is_secret` is the verdict of `detect-secrets audit`: false means a person marked it a
false positive, so the finding arrives suppressed.

detect-secrets has no severity: every finding is high, as the SDK files gitleaks leaks.
"""

from __future__ import annotations

import json
from typing import Any

from findings.rules.categories import FindingType
from findings.rules.fingerprint import secret_fingerprint
from findings.rules.severity import Severity
from ingest.parsers import shape
from ingest.parsers.credentials import conceal
from protocol.report import Report, ReportError, ReportFinding

FORMAT = "detect-secrets"

_SEVERITY = Severity.HIGH


def recognizes(document: object) -> bool:
    return (
        isinstance(document, dict)
        and isinstance(document.get("results"), dict)
        and ("plugins_used" in document or "filters_used" in document)
    )


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    document = shape.obj(document, "body")
    results = shape.obj(document.get("results"), "results")
    findings = []
    for file_name, entries in results.items():
        # File names hold dots and slashes: quote them so the path stays readable.
        file_path = f"results[{json.dumps(file_name)}]"
        for i, item in enumerate(shape.array(entries, file_path, required=True)):
            path = f"{file_path}[{i}]"
            findings.append(_finding(shape.obj(item, path), path, file_name))
    return Report(
        tool_name=FORMAT,
        tool_version=shape.text(document.get("version"), "version", max_length=100),
        finished_at=shape.timestamp(document.get("generated_at"), "generated_at"),
        findings=findings,
    )


def _finding(item: dict, path: str, file_name: str) -> ReportFinding:
    secret_type = shape.text(item.get("type"), f"{path}.type", required=True, max_length=200)
    file_path = shape.text(item.get("filename"), f"{path}.filename", max_length=1024) or file_name
    hashed_secret = shape.text(
        item.get("hashed_secret"), f"{path}.hashed_secret", required=True, max_length=200
    )
    line = shape.integer(item.get("line_number"), f"{path}.line_number", minimum=1)
    if line is None:
        raise ReportError("is required", path=f"{path}.line_number")

    secret: dict[str, Any] = {"secret_type": secret_type}
    # Verified means the plugin reached the service and the credential worked; unverified
    # says nothing either way, so `valid` is left out rather than set to False.
    if item.get("is_verified") is True:
        secret["valid"] = True
    metadata: dict[str, Any] = {"secret": secret}
    audited = item.get("is_secret")
    if isinstance(audited, bool):
        metadata["audited_as_secret"] = audited
    finding = ReportFinding(
        rule_id=secret_type,
        rule_name=secret_type,
        title=f"Potential secret: {secret_type}",
        description=f"detect-secrets found a {secret_type} in {file_path} at line {line}.",
        severity=_SEVERITY,
        finding_type=FindingType.SECRET,
        fingerprint=secret_fingerprint(
            path=file_path, rule_id=secret_type, start_line=line, secret=hashed_secret
        ),
        file_path=file_path,
        start_line=line,
        end_line=line,
        metadata=metadata,
        suppressed=audited is False,
    )
    return conceal(finding)
