"""Reading a body off the wire: size limits and content encodings (gzip, zstd).

The reference SDK compresses bodies over 1 KB with zstd (gzip optionally) and says so in
`Content-Encoding`, on every call it makes: reports, but also heartbeats and command
results. We read the raw stream ourselves, not through Django's `request.body`, so the
limit is ours (INGEST_MAX_BYTES unless a caller says otherwise, after decompression)
rather than DATA_UPLOAD_MAX_MEMORY_SIZE, whose refusal is an HTML page under DEBUG; and a
zip bomb is cut off at the limit instead of filling memory. Every refusal is an ApiError,
so it has the API's error shape.

`EncodedJSONParser` puts the same reading behind DRF's `request.data` for the agent API
(agents/api/protocol.py, AgentApiView).
"""

from __future__ import annotations

import json
import zlib

import zstandard
from django.conf import settings
from rest_framework.parsers import BaseParser

from rediverio.api_errors import ApiError

READ_CHUNK = 1 << 20


def read_body(request, limit: int | None = None) -> bytes:
    """The request's body, decoded, at most `limit` bytes (INGEST_MAX_BYTES by default;
    413 beyond, 415 for an encoding we do not speak, 400 for a corrupt one)."""
    stream = request._request if hasattr(request, "_request") else request
    return read_stream(stream, content_encoding(request), limit)


def content_encoding(request) -> str:
    return request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()


def read_stream(stream, encoding: str, limit: int | None = None) -> bytes:
    limit = settings.INGEST_MAX_BYTES if limit is None else limit
    # A compressed body is smaller than its content, so the same limit bounds both.
    raw = _read_at_most(stream, limit) if stream is not None else b""
    return decode(raw, encoding, limit)


def decode(raw: bytes, encoding: str, limit: int | None = None) -> bytes:
    limit = settings.INGEST_MAX_BYTES if limit is None else limit
    if encoding in ("", "identity"):
        return raw
    if encoding in ("gzip", "x-gzip", "deflate"):
        window = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
        inflater = zlib.decompressobj(window)
        try:
            out = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise ApiError(400, "INVALID_BODY", f"corrupt {encoding} body: {exc}") from exc
    elif encoding == "zstd":
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(raw)
            out = reader.read(limit + 1)
        except zstandard.ZstdError as exc:
            raise ApiError(400, "INVALID_BODY", f"corrupt zstd body: {exc}") from exc
    else:
        raise ApiError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"Content-Encoding {encoding!r} is not supported (use gzip or zstd).",
        )
    if len(out) > limit:
        raise too_large(limit)
    return out


def _read_at_most(stream, limit: int) -> bytes:
    parts, size = [], 0
    while True:
        part = stream.read(READ_CHUNK)
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > limit:
            raise too_large(limit)
        parts.append(part)


def too_large(limit: int, what: str = "report", hint: str = "; send it in chunks") -> ApiError:
    size = f"{limit / (1 << 20):g} MB" if limit >= 1 << 20 else f"{limit} bytes"
    return ApiError(
        413, "PAYLOAD_TOO_LARGE", f"The {what} is larger than {size}{hint}.", {"limit_bytes": limit}
    )


class EncodedJSONParser(BaseParser):
    """JSON bodies, plain or gzip/zstd-encoded, up to INGEST_MAX_BYTES decoded.

    Deliberately not a subclass of DRF's JSONParser: DRF hands that one
    `io.BytesIO(request.body)`, which goes through DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB);
    any other parser gets the request's stream, which we read under our own limit."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        encoding = content_encoding(request) if request is not None else ""
        raw = read_stream(stream, encoding)
        if not raw.strip():
            return {}
        # Plain json, NUL characters kept: the serializers of these calls refuse them by
        # field (reports, which store them as U+FFFD, read their bodies themselves).
        # NaN and ±Infinity refused, as DRF's own JSON parser does: Python's json reads
        # them, but no JSON column can hold them (a 500 when the row is saved).
        try:
            return json.loads(raw, parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ApiError(400, "INVALID_BODY", f"JSON parse error: {exc}") from exc


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")
