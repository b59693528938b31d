"""Small, fast checks for decoded JSON, naming the place of every problem.

Hand-written rather than a schema library: a 100,000-finding report must validate in
well under a second, and every error must name its field and index
(`findings[3].severity`) for the agent author who reads it.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from findings.rules.severity import Severity, normalize_severity
from protocol.report import ReportError

_NUL_ESCAPE = "\\u0000"


def loads(raw: bytes | str) -> Any:
    """`json.loads`, with every NUL character (which PostgreSQL text and JSONB cannot
    hold, and no scanner means) made U+FFFD, as any other undecodable byte would be.

    JSON can only carry a NUL escaped, so a document without that escape is returned as
    decoded: the walk costs nothing for the reports that do not need it.
    """
    document = json.loads(raw)
    escaped = _NUL_ESCAPE in raw if isinstance(raw, str) else _NUL_ESCAPE.encode() in raw
    return _without_nul(document) if escaped else document


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def decode_json(raw: bytes | str) -> Any:
    try:
        return loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: json gives up on nesting deeper than the interpreter's stack.
        raise ReportError(f"not valid JSON: {exc}") from exc


def obj(value: Any, path: str, *, required: bool = True) -> dict:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ReportError(f"must be an object, not {_kind(value)}", path=path)
    return value


def array(value: Any, path: str, *, required: bool = False) -> list:
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise ReportError(f"must be an array, not {_kind(value)}", path=path)
    return value


def text(
    value: Any, path: str, *, required: bool = False, max_length: int = 100_000, default: str = ""
) -> str:
    if value is None or value == "":
        if required:
            raise ReportError("is required", path=path)
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # ids and versions are often sent as numbers
    if not isinstance(value, str):
        raise ReportError(f"must be a string, not {_kind(value)}", path=path)
    if len(value) > max_length:
        raise ReportError(f"is longer than {max_length} characters", path=path)
    return value


def integer(value: Any, path: str, *, minimum: int | None = 0) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ReportError(f"must be an integer, not {_kind(value)}", path=path)
    if minimum is not None and value < minimum:
        raise ReportError(f"must be at least {minimum}", path=path)
    return value


def number(
    value: Any, path: str, *, minimum: float | None = None, maximum: float | None = None
) -> float | None:
    if value is None:
        return None
    # isnan only on floats: it converts an int, and JSON ints may be longer than any float.
    nan = isinstance(value, float) and math.isnan(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or nan:
        raise ReportError(f"must be a number, not {_kind(value)}", path=path)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ReportError(f"must be between {minimum} and {maximum}", path=path)
    try:
        return float(value)
    except OverflowError:
        raise ReportError("is too large a number", path=path) from None


def strings(value: Any, path: str) -> list[str]:
    items = array(value, path)
    return [
        text(item, f"{path}[{i}]", required=True, max_length=2_000) for i, item in enumerate(items)
    ]


def string_map(value: Any, path: str) -> dict[str, str]:
    mapping = obj(value, path, required=False)
    return {str(k): text(v, f"{path}.{k}", max_length=10_000) for k, v in mapping.items()}


def severity(value: Any, path: str) -> Severity:
    if value is None or value == "":
        raise ReportError("is required", path=path)
    word = value if isinstance(value, str) else None
    found = normalize_severity(word) if word is not None else None
    if found is None:
        raise ReportError(
            f"{value!r} is not a severity (critical, high, medium, low, info)", path=path
        )
    return found


def timestamp(value: Any, path: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ReportError(f"must be an RFC 3339 time, not {_kind(value)}", path=path)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReportError(f"{value!r} is not an RFC 3339 time", path=path) from exc
    if moment.tzinfo is None:
        raise ReportError(f"{value!r} has no time zone", path=path)
    return moment


def cwe(value: Any, path: str) -> str:
    """'CWE-89', '89', 89 or 'cwe-89: SQL injection' → 'CWE-89'."""
    raw = text(value, path, required=True, max_length=200).strip().upper()
    digits = raw.removeprefix("CWE-").removeprefix("CWE").split(":", 1)[0].strip()
    if not digits.isdecimal():  # isdigit() would let "²" through to int()
        raise ReportError(f"{value!r} is not a CWE id", path=path)
    return f"CWE-{int(digits)}"


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )
