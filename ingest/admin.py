from __future__ import annotations

from django.contrib import admin

from ingest.models import Ingest, IngestChunk
from rediverio.admin import TenantScopedAdmin


@admin.register(Ingest)
class IngestAdmin(TenantScopedAdmin):
    list_display = ("id", "format", "status", "size_bytes", "agent", "user", "tenant", "created_at")
    list_filter = (*TenantScopedAdmin.list_filter, "status", "format")
    list_select_related = ("agent", "user", "tenant")
    show_full_result_count = False
    exclude = ("payload",)
    readonly_fields = (
        "id",
        "agent",
        "user",
        "format",
        "digest",
        "size_bytes",
        "status",
        "options",
        "scan_session",
        "result",
        "error",
        "created_at",
        "completed_at",
    )

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(IngestChunk)
class IngestChunkAdmin(TenantScopedAdmin):
    list_display = ("report_id", "index", "total", "agent", "tenant", "created_at")
    exclude = ("data",)
    readonly_fields = ("id", "agent", "report_id", "index", "total", "created_at")

    def has_add_permission(self, request) -> bool:
        return False
