"""TruffleHog 3 results: JSON lines (`trufflehog … --json`), one secret a line.

Decisions a caller must know:

* The secret never enters the report's stored fields. `RawV2` (else `Raw`) is the
  secret; it is folded into the fingerprint with the reference SDK's secret formula
  (path, detector, line, sha256(secret)[:16]; the server keys it, ingest/secrets.py),
  held in `secret_values` with `Raw`, `RawV2` and `Redacted` (for some detectors the
  whole credential), and shown only as the fixed mask (ingest/parsers/credentials.py).
  `ExtraData` values are kept unless one of those values is part of them.
* TruffleHog before 3.4x wrote `Raw` as base64 (Go's encoding of a byte slice); such a
  record has neither `RawV2` nor `DecoderName`, and its `Raw` is decoded before hashing
  so a secret keeps its fingerprint across TruffleHog upgrades.
* Severity: a verified (live) secret is critical, any other high (gitleaks findings are
  high in the reference SDK; a proven-live credential deserves more).
* Rule = detector name; file, line, commit and repository come from `SourceMetadata`
  whatever the source (Git, Filesystem, Github, Docker…).
* Target: the repository every result shares, if they all share one.
"""

from __future__ import annotations

import base64
from typing import Any

from findings.rules.categories import FindingType
from findings.rules.fingerprint import secret_fingerprint
from findings.rules.severity import Severity
from ingest.parsers import shape
from ingest.parsers.credentials import conceal
from ingest.parsers.detect import decode_json_lines
from protocol.report import Report, ReportError, ReportFinding, ReportTarget

FORMAT = "trufflehog"

# ExtraData text this long that is part of a secret is a piece of it.
_PIECE = 8
_SAMPLE = 20


def recognizes(document: object) -> bool:
    if not isinstance(document, list) or not document:
        return False
    return all(
        isinstance(item, dict)
        and isinstance(item.get("SourceMetadata"), dict)
        and ("DetectorName" in item or "DetectorType" in item)
        for item in document[:_SAMPLE]
    )


def parse(raw: bytes | str) -> Report:
    return _report(decode_json_lines(raw))


def from_document(document: Any) -> Report:
    items = shape.array(document, "body", required=True)
    return _report([(f"[{i}]", item) for i, item in enumerate(items)])


def _report(records: list[tuple[str, Any]]) -> Report:
    report = Report(tool_name=FORMAT)
    repositories = set()
    for where, item in records:
        finding = _finding(item, where)
        report.findings.append(finding)
        repositories.add(finding.metadata.get("repository", ""))
    if len(repositories) == 1 and (repository := repositories.pop()):
        report.targets.append(ReportTarget(identifier=repository))
    return report


def _finding(item: Any, where: str) -> ReportFinding:
    record = shape.obj(item, where)
    detector = shape.text(record.get("DetectorName"), f"{where}.DetectorName") or shape.text(
        record.get("DetectorType"), f"{where}.DetectorType"
    )
    if not detector:
        raise ReportError("is required", path=f"{where}.DetectorName")
    source = _source(record.get("SourceMetadata"), f"{where}.SourceMetadata")
    secret = _secret(record, where)
    verified = record.get("Verified") is True
    file_path = _text(source, "file", "path", "filename")
    line = source.get("line")
    line = line if isinstance(line, int) and not isinstance(line, bool) and line > 0 else None

    sensitive = [s for s in (secret, _raw(record, "Raw"), _raw(record, "RawV2")) if s]
    sensitive += [s for s in (_raw(record, "Redacted"),) if s]
    details: dict[str, Any] = {"secret_type": detector, "valid": verified}
    if decoder := _raw(record, "DecoderName"):
        details["decoder"] = decoder
    finding = ReportFinding(
        rule_id=detector,
        title=f"{detector} secret",
        severity=Severity.CRITICAL if verified else Severity.HIGH,
        finding_type=FindingType.SECRET,
        rule_name=detector,
        fingerprint=secret_fingerprint(
            path=file_path, rule_id=detector, start_line=line or 0, secret=secret
        ),
        file_path=file_path,
        start_line=line,
        end_line=line,
        metadata={"secret": details, "verified": verified},
        secret_values=list(dict.fromkeys(sensitive)),
    )
    for key, name in (
        ("source", "source"),
        ("repository", "repository"),
        ("commit", "commit"),
        ("email", "author"),
        ("timestamp", "commit_date"),
        ("link", "link"),
    ):
        if value := _text(source, key):
            finding.metadata[name] = value
    if source_name := _raw(record, "SourceName"):
        finding.metadata["source_name"] = source_name
    extra = _scrubbed(record.get("ExtraData"), sensitive)
    if extra:
        finding.metadata["extra"] = extra
    return conceal(finding)


def _source(value: Any, path: str) -> dict[str, Any]:
    """The one source block of SourceMetadata.Data ({"Git": {...}}), named in `source`."""
    metadata = shape.obj(value, path)
    data = shape.obj(metadata.get("Data"), f"{path}.Data", required=False)
    for kind, block in data.items():
        if isinstance(block, dict):
            return {**block, "source": kind}
    return {}


def _secret(record: dict, where: str) -> str:
    for key in ("RawV2", "Raw"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise ReportError("must be a string", path=f"{where}.{key}")
    if record.get("RawV2"):
        return record["RawV2"]
    raw = record.get("Raw") or ""
    if raw and "RawV2" not in record and "DecoderName" not in record:
        try:
            return base64.b64decode(raw, validate=True).decode("utf-8")
        except ValueError:  # not base64, not ASCII, or not UTF-8 once decoded
            return raw
    return raw


def _scrubbed(value: Any, sensitive: list[str]) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    kept = {}
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool):
            continue
        text = str(item)
        if any(s in text or (len(text) >= _PIECE and text in s) for s in sensitive):
            continue
        kept[str(key)] = text
    return kept


def _text(source: dict, *keys: str) -> str:
    for key in keys:
        value = source.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _raw(record: dict, key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""
