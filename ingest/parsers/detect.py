"""Which tool wrote a report, and the parser that reads it.

Django-free, like every parser: the agent program imports it.

Detection decodes the input once as JSON and offers the document to each parser's
`recognizes`, in the order of `FORMATS`; if no parser claims it, the input is read as
JSON lines (nuclei, trufflehog 3) and the list of decoded lines is offered instead. The
order matters where shapes overlap: RIS and the flat format come first because they are
our own, and the specific tools before the loose JSON-lines ones. Input that starts
with `<` is XML: it is offered, as text, to the parsers that read XML
(`recognizes_markup`: CycloneDX), and never decoded as JSON.

Decisions a caller must know:

* Parser modules are imported lazily. A module that does not exist yet is skipped by
  detection and refused by name (`ReportError` on `format`); a module that exists but
  fails to import is a bug and its error propagates.
* Content-free input (empty, whitespace, `null`, `[]`, `{}`) names no tool: detection
  refuses it and the caller must pass `format=`.
* When a report was detected from whole-document JSON and its module offers
  `from_document`, the decoded document is handed over so that a large report is not
  decoded twice; otherwise the module's `parse` reads the raw input again.
"""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any

from ingest.parsers import shape
from protocol.report import Report, ReportError

_MODULES: dict[str, str] = {
    "ris": "ingest.parsers.ris",
    "flat": "ingest.parsers.flat",
    "sarif": "ingest.parsers.sarif",
    "cyclonedx": "ingest.parsers.cyclonedx",
    "spdx": "ingest.parsers.spdx",
    "semgrep": "ingest.parsers.semgrep",
    "bandit": "ingest.parsers.bandit",
    "gitleaks": "ingest.parsers.gitleaks",
    "trivy": "ingest.parsers.trivy",
    "checkov": "ingest.parsers.checkov",
    "detect-secrets": "ingest.parsers.detect_secrets",
    "nuclei": "ingest.parsers.nuclei",
    "trufflehog": "ingest.parsers.trufflehog",
    "trufflehog3": "ingest.parsers.trufflehog3",
    "pip-audit": "ingest.parsers.pip_audit",
}
FORMATS: tuple[str, ...] = tuple(_MODULES)

_EMPTY = "the report is empty, so nothing tells its format; name the format"


def detect_format(raw: bytes | str) -> str:
    return _detect(raw)[0]


def parse_report(raw: bytes | str, format: str | None = None) -> Report:
    if format is None:
        _, module, document = _detect(raw)
        if document is not None and hasattr(module, "from_document"):
            return module.from_document(document)
        return module.parse(raw)
    return _module_named(format).parse(raw)


def parser_module(format: str) -> ModuleType | None:
    """The parser module for `format`, or None when it is not installed."""
    dotted = _MODULES[format]
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        # Only the module itself being absent is tolerated; a broken import inside an
        # existing parser must surface, not silently drop a format.
        if exc.name != dotted:
            raise
        return None


def decode_text(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    if not isinstance(raw, bytes | bytearray):
        raise ReportError(f"a report is bytes or text, not {type(raw).__name__}")
    try:
        # JSON's own rule: UTF-8, -16 or -32, told apart by the first bytes or a BOM
        # (Windows PowerShell redirects write UTF-16).
        return bytes(raw).decode(json.detect_encoding(raw)).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ReportError(f"not UTF-8 text: {exc}") from exc


def decode_json_lines(raw: bytes | str) -> list[tuple[str, Any]]:
    """The records of a JSON-lines report, each with the place to name in errors.

    A whole-document JSON array (nuclei's `-json-export`) is accepted too; its records
    are named `[i]`, lines are named `line n` (counting from 1, blank lines included).
    """
    text = decode_text(raw)
    if not text.strip():
        return []
    try:
        whole = shape.loads(text)
    except (ValueError, RecursionError):  # the latter: nesting too deep to decode
        pass
    else:
        if isinstance(whole, list):
            return [(f"[{i}]", item) for i, item in enumerate(whole)]
        first = next(n for n, line in enumerate(text.split("\n"), 1) if line.strip())
        return [(f"line {first}", whole)]
    records = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append((f"line {number}", shape.loads(line)))
        except (ValueError, RecursionError) as exc:
            raise ReportError(f"not valid JSON: {exc}", path=f"line {number}") from exc
    return records


def _module_named(format: str) -> ModuleType:
    name = format.strip().lower().replace("_", "-") if isinstance(format, str) else ""
    if name not in _MODULES:
        known = ", ".join(FORMATS)
        raise ReportError(f"unknown format {format!r}; known formats: {known}", path="format")
    module = parser_module(name)
    if module is None:
        raise ReportError(f"no parser for {name!r} is installed", path="format")
    return module


def _detect(raw: bytes | str) -> tuple[str, ModuleType, Any]:
    """(format, module, decoded document or None when it came from JSON lines)."""
    unrecognised = ReportError("unrecognised report format")
    try:
        text = decode_text(raw)
    except ReportError as exc:
        raise unrecognised from exc
    if not text.strip():
        raise ReportError(_EMPTY)
    if text.lstrip().startswith("<"):
        if found := _markup_claimant(text):
            return (*found, None)
        raise unrecognised
    try:
        document = shape.loads(text)
    except (ValueError, RecursionError):
        try:
            records = [record for _, record in decode_json_lines(text)]
        except ReportError as exc:
            raise unrecognised from exc
    else:
        if document is None or document == [] or document == {}:
            raise ReportError(_EMPTY)
        if found := _claimant(document):
            return (*found, document)
        # One JSON-lines record alone on its line also decodes as a plain document.
        records = [document] if isinstance(document, dict) else []
    if records and (found := _claimant(records)):
        return (*found, None)
    raise unrecognised


def _claimant(document: Any) -> tuple[str, ModuleType] | None:
    for name in FORMATS:
        module = parser_module(name)
        if module is not None and module.recognizes(document):
            return name, module
    return None


def _markup_claimant(text: str) -> tuple[str, ModuleType] | None:
    for name in FORMATS:
        module = parser_module(name)
        if module is not None and getattr(module, "recognizes_markup", _reads_no_markup)(text):
            return name, module
    return None


def _reads_no_markup(text: str) -> bool:
    return False
