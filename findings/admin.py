from __future__ import annotations

from django.contrib import admin

from findings.models import Asset, AssetDependency, Component, Finding, FindingSighting
from rediverio.admin import TenantScopedAdmin


@admin.register(Asset)
class AssetAdmin(TenantScopedAdmin):
    list_display = (
        "name",
        "type",
        "provider",
        "identifier",
        "tenant",
        "critical_count",
        "high_count",
        "risk_score",
        "last_scanned_at",
    )
    list_filter = (*TenantScopedAdmin.list_filter, "type", "provider", "criticality")
    search_fields = ("name", "identifier")
    readonly_fields = (
        "id",
        "identifier",
        "critical_count",
        "high_count",
        "medium_count",
        "low_count",
        "info_count",
        "risk_score",
        "last_scanned_at",
        "created_at",
        "updated_at",
    )


@admin.register(Finding)
class FindingAdmin(TenantScopedAdmin):
    list_display = (
        "title_short",
        "severity",
        "status",
        "tool_name",
        "source_category",
        "asset",
        "tenant",
        "last_seen_at",
    )
    list_filter = (
        *TenantScopedAdmin.list_filter,
        "severity",
        "status",
        "source_category",
        "finding_type",
        "tool_name",
    )
    search_fields = ("title", "rule_id", "file_path", "cve_id", "fingerprint")
    list_select_related = ("asset", "tenant")
    raw_id_fields = ("asset", "last_scan_session")
    show_full_result_count = False  # an exact count is slow on millions of rows
    readonly_fields = (
        "id",
        "fingerprint",
        "partial_fingerprints",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
        "reopen_count",
        "occurrence_count",
        "last_scan_session",
        "created_at",
        "updated_at",
    )

    @admin.display(description="title", ordering="title")
    def title_short(self, finding: Finding) -> str:
        return finding.title[:100]


@admin.register(Component)
class ComponentAdmin(TenantScopedAdmin):
    list_display = ("name", "version", "ecosystem", "type", "purl", "tenant")
    list_filter = (*TenantScopedAdmin.list_filter, "ecosystem", "type")
    search_fields = ("name", "purl")
    readonly_fields = ("id", "purl", "created_at")


@admin.register(AssetDependency)
class AssetDependencyAdmin(TenantScopedAdmin):
    list_display = ("asset", "component", "relationship", "path", "tenant")
    list_filter = (*TenantScopedAdmin.list_filter, "relationship")
    search_fields = ("component__purl", "asset__name", "path")
    list_select_related = ("asset", "component", "tenant")
    raw_id_fields = ("asset", "component")
    readonly_fields = ("created_at",)


@admin.register(FindingSighting)
class FindingSightingAdmin(TenantScopedAdmin):
    list_display = ("finding", "scan_session", "seen_at", "tenant")
    list_select_related = ("finding", "scan_session", "tenant")
    raw_id_fields = ("finding", "scan_session")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
