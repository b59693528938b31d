from __future__ import annotations

from django.contrib import admin

from rediverio.admin import TenantScopedAdmin
from scans.models import Scan, ScanDraft, ScanProfile, ScanSession


@admin.register(ScanProfile)
class ScanProfileAdmin(TenantScopedAdmin):
    list_display = ("name", "intensity", "is_default", "is_system", "tenant", "updated_at")
    list_filter = (*TenantScopedAdmin.list_filter, "intensity", "is_system", "is_default")
    search_fields = ("name",)
    readonly_fields = ("id", "is_system", "created_at", "updated_at")

    def has_change_permission(self, request, obj=None) -> bool:
        # System profiles ship with the product: a change would be lost on upgrade.
        if obj is not None and obj.is_system:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_system:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Scan)
class ScanAdmin(TenantScopedAdmin):
    list_display = (
        "name",
        "scan_type",
        "scanner_name",
        "schedule_type",
        "status",
        "next_run_at",
        "last_run_at",
        "tenant",
    )
    list_filter = (*TenantScopedAdmin.list_filter, "status", "scan_type", "schedule_type")
    search_fields = ("name", "scanner_name")
    filter_horizontal = ("targets",)
    readonly_fields = (
        "id",
        "next_run_at",
        "last_run_at",
        "total_runs",
        "successful_runs",
        "failed_runs",
        "canceled_runs",
        "created_by",
        "created_at",
        "updated_at",
    )


@admin.register(ScanSession)
class ScanSessionAdmin(TenantScopedAdmin):
    list_display = (
        "id",
        "scan",
        "scanner_name",
        "asset_value",
        "status",
        "progress",
        "findings_total",
        "findings_new",
        "findings_fixed",
        "tenant",
        "created_at",
    )
    list_filter = (*TenantScopedAdmin.list_filter, "status", "trigger", "scanner_name")
    search_fields = ("id", "scanner_name", "asset_value", "scan__name")
    list_select_related = ("scan", "tenant")
    raw_id_fields = ("scan", "agent", "asset")
    show_full_result_count = False
    readonly_fields = (
        "id",
        "run_id",
        "findings_total",
        "findings_new",
        "findings_fixed",
        "findings_by_severity",
        "quality_gate_result",
        "created_at",
        "started_at",
        "completed_at",
        "duration_ms",
    )


@admin.register(ScanDraft)
class ScanDraftAdmin(TenantScopedAdmin):
    """Wizard drafts, for support: read-only, since only the wizard writes them."""

    list_display = ("__str__", "step", "created_by", "tenant", "updated_at")
    list_select_related = ("created_by", "tenant")
    search_fields = ("id", "created_by__username")
    readonly_fields = ("id", "tenant", "created_by", "data", "step", "created_at", "updated_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
