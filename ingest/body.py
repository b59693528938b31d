"""Reading a report off the wire: size limits and content encodings (gzip, zstd).

The reference SDK compresses bodies over 1 KB with zstd (gzip optionally) and says so in
`Content-Encoding`. We read the raw stream ourselves, not through Django's `request.body`,
so the limit is ours (INGEST_MAX_BYTES, after decompression) and a zip bomb is cut off at
the limit instead of filling memory.
"""

from __future__ import annotations

import zlib

import zstandard
from django.conf import settings

from rediverio.api_errors import ApiError

READ_CHUNK = 1 << 20


def read_body(request) -> bytes:
    """The request's body, decoded, at most INGEST_MAX_BYTES (413 beyond, 415 for an
    encoding we do not speak, 400 for a corrupt one)."""
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    stream = request._request if hasattr(request, "_request") else request
    # A compressed body is smaller than its content, so the same limit bounds both.
    raw = _read_at_most(stream, settings.INGEST_MAX_BYTES)
    return decode(raw, encoding)


def decode(raw: bytes, encoding: str) -> bytes:
    limit = settings.INGEST_MAX_BYTES
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


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"The report is larger than {limit // (1 << 20)} MB; send it in chunks.",
    )
