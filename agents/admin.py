from __future__ import annotations

from django.contrib import admin

from agents.models import Agent, AgentKey, Command, CommandEvent
from rediverio.admin import TenantScopedAdmin


class AgentKeyInline(admin.TabularInline):
    model = AgentKey
    extra = 0
    can_delete = False
    fields = ("prefix", "name", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")

    def has_add_permission(self, request, obj=None) -> bool:
        # Keys are issued by `createagent` or the API, which show the secret once.
        return False


@admin.register(Agent)
class AgentAdmin(TenantScopedAdmin):
    list_display = (
        "name",
        "type",
        "status",
        "health",
        "tenant",
        "version",
        "active_jobs",
        "max_concurrent_jobs",
        "last_seen_at",
    )
    list_filter = (*TenantScopedAdmin.list_filter, "status", "health", "type")
    search_fields = ("name", "hostname")
    inlines = [AgentKeyInline]
    readonly_fields = (
        "id",
        "health",
        "version",
        "hostname",
        "region",
        "cpu_percent",
        "memory_percent",
        "active_jobs",
        "reported_tools",
        "reported_capabilities",
        "last_seen_at",
        "status_message",
        "created_by",
        "created_at",
        "updated_at",
    )


@admin.register(AgentKey)
class AgentKeyAdmin(TenantScopedAdmin):
    list_display = ("prefix", "agent", "tenant", "created_at", "last_used_at", "revoked_at")
    search_fields = ("prefix", "agent__name")
    list_select_related = ("agent", "tenant")
    readonly_fields = ("id", "agent", "prefix", "digest", "created_at", "last_used_at")

    def has_add_permission(self, request) -> bool:
        return False


class CommandEventInline(admin.TabularInline):
    model = CommandEvent
    extra = 0
    can_delete = False
    fields = ("at", "from_status", "to_status", "agent", "message")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Command)
class CommandAdmin(TenantScopedAdmin):
    list_display = ("id", "type", "priority", "status", "agent", "tenant", "created_at")
    list_filter = (*TenantScopedAdmin.list_filter, "status", "type", "priority")
    search_fields = ("id",)
    list_select_related = ("agent", "tenant")
    raw_id_fields = ("target_agent", "agent", "scan", "scan_session")
    show_full_result_count = False
    inlines = [CommandEventInline]
    readonly_fields = (
        "id",
        "agent",
        "lease_expires_at",
        "attempts",
        "progress",
        "progress_message",
        "result",
        "error_message",
        "created_at",
        "acknowledged_at",
        "started_at",
        "completed_at",
        "updated_at",
    )


@admin.register(CommandEvent)
class CommandEventAdmin(TenantScopedAdmin):
    """The command audit trail: read-only."""

    list_display = ("at", "command", "from_status", "to_status", "agent", "tenant")
    list_filter = (*TenantScopedAdmin.list_filter, "to_status")
    list_select_related = ("command", "agent", "tenant")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
