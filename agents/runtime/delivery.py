"""Getting a report to the server, or keeping it until that is possible.

A report is POSTed whole, or in RIS fragments through `/ingest/chunk` when it is large
(the reference SDK's thresholds: over 2,000 findings, 200 assets or 5 MB, sent as chunks
of at most 500 findings, 100 assets or 2 MB). The server merges the fragments' lists
and keeps the first fragment's version, metadata and tool.

When the server stays unreachable through the client's retries (or keeps answering 429
or 5xx), the report goes to the spool: one JSON file per report in `<work dir>/spool/`,
written atomically, named so that they sort in the order they were made. The worker
re-sends them on start and every minute; `rediverio-agent flush` does it by hand. A
report the server refuses (a 4xx) is moved to `spool/rejected/` with the reason:
sending it again would only be refused again, and deleting it would lose it.
Lifecycle calls (complete, fail) that cannot be made are spooled the same way, after
the report they follow.

Each report carries its own id (kept in the spool with it), sent as `Idempotency-Key`
with the report, or with each of its chunks. Whatever resends it — the client's retries
after a lost reply, a flush of the spool hours later — the server knows it for the
delivery it already stored and answers without storing it twice.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.runtime.client import ApiClient, ApiError, Unreachable

log = logging.getLogger("rediverio.agent")

INGEST_RIS = "/api/v1/agent/ingest/ris"
INGEST_CHUNK = "/api/v1/agent/ingest/chunk"
_LISTS = ("assets", "findings", "dependencies")


@dataclass(frozen=True, slots=True)
class ChunkLimits:
    over_findings: int = 2000
    over_assets: int = 200
    over_bytes: int = 5 * 1024 * 1024
    findings_per_chunk: int = 500
    assets_per_chunk: int = 100
    bytes_per_chunk: int = 2 * 1024 * 1024

    def per_chunk(self, key: str) -> int:
        return self.assets_per_chunk if key == "assets" else self.findings_per_chunk


@dataclass(slots=True)
class Delivered:
    spooled: bool
    reply: Any = None
    spool_file: Path | None = None


@dataclass(slots=True)
class FlushResult:
    sent: int = 0
    rejected: int = 0
    remaining: int = 0
    errors: list[str] = field(default_factory=list)


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def put(self, entry: dict[str, Any]) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{entry['kind']}-{uuid.uuid4().hex[:8]}.json"
        path = self.directory / name
        temporary = self.directory / f".{name}.tmp"
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump({**entry, "spooled_at": time.time()}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        # A crash mid-write leaves a hidden .tmp file, never a truncated entry.
        os.replace(temporary, path)
        return path

    def entries(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob("*.json") if p.is_file())

    def reject(self, path: Path, reason: str) -> Path:
        rejected = self.directory / "rejected"
        rejected.mkdir(parents=True, exist_ok=True)
        entry = json.loads(path.read_text(encoding="utf-8"))
        entry["rejected_because"] = reason
        target = rejected / path.name
        target.write_text(json.dumps(entry), encoding="utf-8")
        path.unlink()
        return target


class Delivery:
    def __init__(
        self, client: ApiClient, spool: Spool | None, limits: ChunkLimits | None = None
    ) -> None:
        self.client = client
        self.spool = spool
        self.limits = limits or ChunkLimits()
        self._flush_lock = threading.Lock()

    # ------------------------------------------------------------ reports

    def send_report(
        self, document: dict[str, Any], *, endpoint: str = INGEST_RIS, label: str = ""
    ) -> Delivered:
        """Deliver a RIS document, or spool it when the server cannot take it now.
        A refusal (4xx) raises ApiError: the caller must say so, not pretend."""
        entry = {
            "kind": "report",
            "endpoint": endpoint,
            "report_id": uuid.uuid4().hex,
            "label": label,
            "document": document,
        }
        try:
            return Delivered(spooled=False, reply=self._send(entry))
        except (Unreachable, ApiError) as exc:
            if isinstance(exc, ApiError) and not exc.retryable:
                raise
            return self._spool(entry, exc)

    def send_call(self, endpoint: str, body: dict[str, Any], *, defer: bool = False) -> Delivered:
        """A lifecycle call (complete, fail). `defer` queues it behind spooled reports,
        so that the server hears the result only after it has the report."""
        entry = {"kind": "call", "endpoint": endpoint, "document": body}
        if defer and self.spool is not None:
            return Delivered(spooled=True, spool_file=self.spool.put(entry))
        try:
            return Delivered(spooled=False, reply=self._send(entry))
        except (Unreachable, ApiError) as exc:
            if isinstance(exc, ApiError) and not exc.retryable:
                raise
            return self._spool(entry, exc)

    def needs_chunks(self, document: dict[str, Any], size: int | None = None) -> bool:
        limits = self.limits
        if len(document.get("findings") or []) > limits.over_findings:
            return True
        if len(document.get("assets") or []) > limits.over_assets:
            return True
        size = size if size is not None else len(json.dumps(document))
        return size > limits.over_bytes

    def fragments(self, document: dict[str, Any]) -> list[dict[str, Any]]:
        """RIS fragments of at most the chunk limits; the first carries the head."""
        head = {k: v for k, v in document.items() if k not in _LISTS}
        parts: list[dict[str, Any]] = []
        current: dict[str, list] = {key: [] for key in _LISTS}
        size = 0
        for key in _LISTS:
            for item in document.get(key) or []:
                item_size = len(json.dumps(item)) + 1
                full = len(current[key]) >= self.limits.per_chunk(key)
                too_big = size + item_size > self.limits.bytes_per_chunk
                if (full or too_big) and any(current.values()):
                    parts.append(current)
                    current, size = {k: [] for k in _LISTS}, 0
                current[key].append(item)
                size += item_size
        parts.append(current)
        parts[0] = {**head, **parts[0]}
        return parts

    def _send(self, entry: dict[str, Any]) -> Any:
        document = entry["document"]
        if entry["kind"] != "report":
            return self.client.post(entry["endpoint"], document).body
        if self.needs_chunks(document):
            return self._send_chunks(entry)
        return self.client.post(entry["endpoint"], document, headers=_key(entry)).body

    def _send_chunks(self, entry: dict[str, Any]) -> Any:
        fragments = self.fragments(entry["document"])
        total = len(fragments)
        reply = None
        for index, fragment in enumerate(fragments):
            packed = gzip.compress(json.dumps(fragment).encode(), compresslevel=6)
            reply = self.client.post(
                INGEST_CHUNK,
                {
                    "report_id": entry["report_id"],
                    "chunk_index": index,
                    "total_chunks": total,
                    "compression": "gzip",
                    "data": base64.b64encode(packed).decode(),
                    "is_final": index == total - 1,
                    "format": "ris",
                },
                headers=_key(entry),
            ).body
        return reply

    def _spool(self, entry: dict[str, Any], why: Exception) -> Delivered:
        if self.spool is None:
            raise why
        path = self.spool.put(entry)
        log.warning("server unavailable (%s); kept %s in the spool: %s", why, entry["kind"], path)
        return Delivered(spooled=True, spool_file=path)

    # ------------------------------------------------------------ the spool

    def flush(self) -> FlushResult:
        """Send what the spool holds, oldest first; stop at the first sign that the
        server is still away (the rest waits for the next flush)."""
        result = FlushResult()
        if self.spool is None:
            return result
        with self._flush_lock:
            entries = self.spool.entries()
            for position, path in enumerate(entries):
                try:
                    entry = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    # Unreadable: keep it aside for a person, never block the queue on it.
                    result.errors.append(f"{path.name}: unreadable ({exc})")
                    _set_aside(path)
                    continue
                try:
                    self._send(entry)
                except Unreachable as exc:
                    result.remaining = len(entries) - position
                    result.errors.append(str(exc))
                    break
                except ApiError as exc:
                    if exc.retryable:
                        result.remaining = len(entries) - position
                        result.errors.append(str(exc))
                        break
                    self.spool.reject(path, str(exc))
                    result.rejected += 1
                    log.error("the server refused spooled %s %s: %s", entry["kind"], path, exc)
                    continue
                path.unlink(missing_ok=True)
                result.sent += 1
        if result.sent:
            log.info("delivered %d spooled item(s)", result.sent)
        return result


def _key(entry: dict[str, Any]) -> dict[str, str]:
    return {"Idempotency-Key": entry["report_id"]} if entry.get("report_id") else {}


def _set_aside(path: Path) -> None:
    broken = path.parent / "rejected"
    broken.mkdir(parents=True, exist_ok=True)
    path.replace(broken / path.name)
