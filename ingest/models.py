"""Ingests: each report received, its outcome, and (for background ingests and chunked
uploads) its bytes until processed."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from rediverio.lib.db import check_constraint_for
from rediverio.lib.ids import uuid7
from rediverio.tenancy import TenantOwned, TenantQuerySet


class IngestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class Ingest(TenantOwned):
    """One report received: what became of it, and its bytes until it is stored."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    agent = models.ForeignKey(
        "agents.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    format = models.CharField(max_length=32)
    digest = models.CharField(max_length=64, help_text="SHA-256 of the decoded body.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=IngestStatus.choices, default="queued")
    options = models.JSONField(default=dict, blank=True, help_text="asset, session…")
    idempotency_key = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="The sender's `Idempotency-Key`: a delivery sent again with it is "
        "answered with this ingest instead of being stored again.",
    )
    payload = models.BinaryField(null=True, blank=True, help_text="zlib; until processed.")
    scan_session = models.ForeignKey(
        "scans.ScanSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True, help_text="Why the report was refused.")
    # The sweep's bookkeeping of a background ingest whose job was lost (ingest/tasks.py):
    # how often it was queued again, how many of its jobs died while storing it, when.
    requeues = models.PositiveIntegerField(default=0)
    interruptions = models.PositiveIntegerField(default=0)
    requeued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[Ingest]] = TenantQuerySet.as_manager()

    class Meta:
        db_table = "ingests"
        ordering = ["-created_at"]
        constraints = [
            check_constraint_for("status", IngestStatus, name="ingests_status_valid"),
            # One ingest per key: two deliveries racing with the same key store one report.
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="ingests_idempotency_key_once",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "digest", "-created_at"], name="ingests_replay"),
            # The sweep's look for background ingests still waiting (ingest/tasks.py).
            models.Index(
                fields=["created_at"],
                condition=models.Q(status__in=[IngestStatus.QUEUED, IngestStatus.PROCESSING]),
                name="ingests_waiting",
            ),
        ]

    # Set (not stored) by `ingest_submit` when this ingest answers a delivery sent again.
    is_replay: bool = False

    def __str__(self) -> str:
        return f"{self.format} ingest {self.id} ({self.status})"


class IngestChunk(TenantOwned):
    """One part of a report sent in chunks (`POST /api/v1/agent/ingest/chunk`)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    report_id = models.CharField(max_length=256)
    index = models.PositiveIntegerField()
    total = models.PositiveIntegerField()
    data = models.BinaryField(help_text="The chunk, decompressed.")
    # The limits of ingest/chunks.py add sizes up from here, never by reading `data`.
    size = models.PositiveIntegerField(default=0, help_text="Bytes in `data`.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ingest_chunks"
        ordering = ["report_id", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "agent", "report_id", "index"], name="ingest_chunks_once"
            )
        ]
        indexes = [
            # The expiry's look for sets begun too long ago (ingest/chunks.py).
            models.Index(fields=["created_at"], name="ingest_chunks_created"),
        ]

    def __str__(self) -> str:
        return f"{self.report_id} {self.index + 1}/{self.total}"
