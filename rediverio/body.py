"""Reading a body off the wire: size limits and content encodings (gzip, zstd).

The reference SDK compresses bodies over 1 KB with zstd (gzip optionally) and says so in
`Content-Encoding`, on every call it makes: reports, but also heartbeats and command
results. We read the raw stream ourselves, not through Django's `request.body`, so the
limit is ours (INGEST_MAX_BYTES unless a caller says otherwise, after decompression)
rather than DATA_UPLOAD_MAX_MEMORY_SIZE, whose refusal is an HTML page under DEBUG; and a
zip bomb is cut off at the limit instead of filling memory. Every refusal is an ApiError,
so it has the API's error shape.

`EncodedJSONParser` puts the same reading behind DRF's `request.data` for the agent API
(agents/auth.py, AgentApiView).
"""

from __future__ import annotations

import json
import zlib

import zstandard
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from rest_framework.parsers import BaseParser, MultiPartParser

from protocol.limits import check_decoding_cost
from rediverio.api_errors import ApiError

READ_CHUNK = 1 << 20


def read_body(request, limit: int | None = None) -> bytes:
    """The request's body, decoded, at most `limit` bytes (INGEST_MAX_BYTES by default;
    413 beyond, 415 for an encoding we do not speak, 400 for a corrupt one)."""
    limit = settings.INGEST_MAX_BYTES if limit is None else limit
    refuse_declared_size(request, limit)
    stream = request._request if hasattr(request, "_request") else request
    return read_stream(stream, content_encoding(request), limit)


def refuse_declared_size(request, limit: int, what: str = "report") -> None:
    """413 before a byte is read when the body says (`Content-Length`) it is larger
    than `limit`; a compressed body is smaller than its content, so this never refuses
    a body that would fit."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large(limit, what, _HINTS[what])


# The form fields and part headers around an uploaded file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class ReportUploadParser(MultiPartParser):
    """Multipart uploads of a report: refused from their declared size, else while the
    file streams, before it is kept in memory or written to disk (Django's handlers
    would otherwise store the whole body first)."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {})["request"]
        limit = settings.INGEST_MAX_BYTES
        refuse_declared_size(request, limit + MULTIPART_OVERHEAD_BYTES, "upload")
        django_request = request._request
        django_request.upload_handlers = [
            LimitedUploadHandler(django_request, limit),
            *django_request.upload_handlers,
        ]
        return super().parse(stream, media_type, parser_context)


class LimitedUploadHandler(FileUploadHandler):
    """First of a multipart request's upload handlers: stops the upload, while it
    streams, as soon as a file passes `limit` bytes, before the next handler keeps
    them in memory or on disk (the declared size was checked before: this catches a
    body that lies about it)."""

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            raise too_large(self.limit)
        return raw_data

    def file_complete(self, file_size):
        return None


def content_encoding(request) -> str:
    return request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()


def read_stream(stream, encoding: str, limit: int | None = None, what: str = "report") -> bytes:
    limit = settings.INGEST_MAX_BYTES if limit is None else limit
    # A compressed body is smaller than its content, so the same limit bounds both.
    try:
        raw = _read_at_most(stream, limit) if stream is not None else b""
        return decode(raw, encoding, limit)
    except ApiError as exc:
        if exc.status_code != 413 or what == "report":
            raise
        raise too_large(limit, what, _HINTS[what]) from exc


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
    parts: list[bytes] = []
    size = 0
    while True:
        part = stream.read(READ_CHUNK)
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > limit:
            raise too_large(limit)
        parts.append(part)


_HINTS = {"report": "; send it in chunks", "message": "", "upload": ""}


def too_large(limit: int, what: str = "report", hint: str = "; send it in chunks") -> ApiError:
    size = f"{limit / (1 << 20):g} MB" if limit >= 1 << 20 else f"{limit} bytes"
    return ApiError(
        413, "PAYLOAD_TOO_LARGE", f"The {what} is larger than {size}{hint}.", {"limit_bytes": limit}
    )


class EncodedJSONParser(BaseParser):
    """JSON bodies, plain or gzip/zstd-encoded, up to AGENT_MESSAGE_MAX_BYTES decoded
    (heartbeats, polls, command results: reports have endpoints of their own), and no
    denser than a report may be (protocol/limits.py).

    Deliberately not a subclass of DRF's JSONParser: DRF hands that one
    `io.BytesIO(request.body)`, which goes through DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB);
    any other parser gets the request's stream, which we read under our own limit."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        encoding = content_encoding(request) if request is not None else ""
        limit = settings.AGENT_MESSAGE_MAX_BYTES
        if request is not None:
            refuse_declared_size(request, limit, "message")
        raw = read_stream(stream, encoding, limit, "message")
        if not raw.strip():
            return {}
        check_decoding_cost(raw)  # LimitExceeded: the API's 413 (rediverio/api_errors.py)
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
