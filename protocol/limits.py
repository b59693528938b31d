"""What one report may cost the server to read: bytes, memory, findings, assets, packages.

Django-free (the parsers call it, and the agent program imports the parsers). The server
sets the numbers from its settings (`ingest.services.report_limits`, README: Security); a
caller that sets none, like the agent program, reads without limits.

Two guards keep a report's reading a small multiple of its size, whatever its shape:

* Before decoding, `check_decoding_cost` estimates what Python's `json` (or
  ElementTree, for XML) would allocate for the document from a count of its structural
  characters, which costs one pass over the bytes and no memory. Real reports decode to
  about five times their size; a document of empty objects (`[{},{},…]`) decodes to
  twenty-five times its size, and nested empty arrays to almost forty. A document
  estimated above MEMORY_FACTOR times its size is refused before a single object is made.
* While a parser builds the report, every finding, target and dependency it creates is
  counted (`counted`, called by the dataclasses of protocol/report.py): a parser stops at
  the limit instead of building millions of small objects out of a dense report.

Exceeding either raises `LimitExceeded`, which is deliberately not a `ReportError`:
parsers skip bad entries by catching `ReportError`, and a limit must stop the reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import AnyStr

# Estimated bytes of Python objects per structural character, measured with tracemalloc
# on CPython 3.11: an object or array with its slot in its parent (~64-84), a string per
# quote character (a short str is ~50, two quotes), a value per comma and a dict entry
# per colon. Commas and colons inside strings are counted too: the estimate is high for
# text-heavy documents, never low for dense ones.
_CONTAINER, _QUOTE, _COMMA, _COLON = 80, 32, 24, 24
# XML (ElementTree): an element per tag mark (opening and closing tags both count, so
# about 60 per element of ~120) and an attribute dict entry with its value per "=".
_TAG, _ATTRIBUTE = 120, 160
# Real reports estimate at 5-9 times their size (a 100,000-result SARIF at 5.5); empty
# objects at 37, short strings at 17. Small documents get a fixed allowance on top.
MEMORY_FACTOR = 10
MEMORY_ALLOWANCE = 16 * 1024 * 1024


class LimitExceeded(Exception):
    """A report beyond one of its limits. `limit` names it (a setting's name on the
    server), `value` is the limit and `message` says what to do. The server answers it
    with `status` and the body `{"error": error()}`."""

    status = 413

    def __init__(self, limit: str, value: int, message: str):
        self.limit, self.value, self.message = limit, value, message
        super().__init__(message)

    @property
    def details(self) -> dict:
        return {"limit": self.limit, "limit_value": self.value}

    def error(self) -> dict:
        return {"code": "PAYLOAD_TOO_LARGE", "message": self.message, "details": self.details}


@dataclass(frozen=True, slots=True)
class ReportLimits:
    """The most one report may hold. Names are those of the server's settings."""

    findings: int
    targets: int
    dependencies: int


_SETTING = {
    "findings": "INGEST_MAX_FINDINGS",
    "targets": "INGEST_MAX_ASSETS",
    "dependencies": "INGEST_MAX_DEPENDENCIES",
}


@dataclass(slots=True)
class _Reading:
    limits: ReportLimits
    counts: dict[str, int] = field(
        default_factory=lambda: {"findings": 0, "targets": 0, "dependencies": 0}
    )


_reading: ContextVar[_Reading | None] = ContextVar("report_reading", default=None)


@contextmanager
def reading(limits: ReportLimits | None) -> Iterator[None]:
    """Count what the parsers build inside this block against `limits`."""
    token = _reading.set(_Reading(limits) if limits is not None else None)
    try:
        yield
    finally:
        _reading.reset(token)


def counted(kind: str) -> None:
    """One more finding, target or dependency built for the report being read."""
    current = _reading.get()
    if current is None:
        return
    current.counts[kind] += 1
    limit = getattr(current.limits, kind)
    if current.counts[kind] > limit:
        noun = {"targets": "assets"}.get(kind, kind)
        raise LimitExceeded(
            _SETTING[kind],
            limit,
            f"The report holds more than {limit:,} {noun}; split it into several reports.",
        )


def decoding_cost(raw: bytes | str) -> int:
    """Estimated bytes of Python objects that decoding `raw` would allocate."""
    if isinstance(raw, bytes):
        return _cost(raw, b"\xef\xbb\xbf \t\r\n", (b"<", b"="), (b"{", b"[", b'"', b",", b":"))
    return _cost(raw, "\ufeff \t\r\n", ("<", "="), ("{", "[", '"', ",", ":"))


def _cost(raw: AnyStr, blank: AnyStr, xml: tuple[AnyStr, AnyStr], json: tuple[AnyStr, ...]) -> int:
    """`decoding_cost` of bytes or of text, given its marks in the same kind."""
    if raw[:64].lstrip(blank)[:1] == xml[0]:
        tags, attributes = (raw.count(mark) for mark in xml)
        return _TAG * tags + _ATTRIBUTE * attributes
    opens, arrays, quotes, commas, colons = (raw.count(mark) for mark in json)
    return _CONTAINER * (opens + arrays) + _QUOTE * quotes + _COMMA * commas + _COLON * colons


def check_decoding_cost(raw: bytes | str) -> None:
    """Refuse, before decoding, a document whose objects would outweigh it many times."""
    budget = MEMORY_FACTOR * len(raw) + MEMORY_ALLOWANCE
    cost = decoding_cost(raw)
    if cost > budget:
        raise LimitExceeded(
            "INGEST_MEMORY_FACTOR",
            MEMORY_FACTOR,
            f"The report is too dense to read: decoding it would take about "
            f"{cost / 2**20:,.0f} MB for {len(raw) / 2**20:,.1f} MB of input (at most "
            f"{MEMORY_FACTOR} times its size). Reports of real scanners are far below this.",
        )
