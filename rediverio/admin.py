"""Operator admin. Superusers see every tenant; other staff only the tenants they belong to."""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from rediverio.models import ApiToken, AuditEvent, Membership, Tenant
from rediverio.tenancy import TenantOwned, TenantQuerySet


def _tenants_of(request: HttpRequest) -> models.QuerySet[Tenant]:
    user = request.user
    if user.is_superuser:
        return Tenant.objects.all()
    if not user.is_authenticated:  # the admin lets staff in only
        return Tenant.objects.none()
    return Tenant.objects.filter(memberships__user=user)


class TenantScopedAdmin(admin.ModelAdmin):
    """Admin for a tenant-owned model: lists, lookups and choices stay inside the
    operator's tenants, and the tenant filter names only tenants the list holds."""

    list_filter: ClassVar[tuple] = (("tenant", admin.RelatedOnlyFieldListFilter),)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        queryset = super().get_queryset(request).select_related("tenant")
        if request.user.is_superuser:
            return queryset
        assert isinstance(queryset, TenantQuerySet)  # the manager of every TenantOwned model
        return queryset.for_user(request.user)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        related = db_field.related_model
        if related is Tenant:
            kwargs["queryset"] = _tenants_of(request)
        elif issubclass(related, TenantOwned) and not request.user.is_superuser:
            kwargs["queryset"] = related.objects.for_user(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        related = db_field.related_model
        if issubclass(related, TenantOwned) and not request.user.is_superuser:
            kwargs["queryset"] = related.objects.for_user(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "plan", "is_active", "created_at")
    list_filter = ("plan", "is_active")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("id", "created_at")
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Tenant]:
        return _tenants_of(request)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("role", ("tenant", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "user__email", "tenant__name", "tenant__slug")
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at",)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Membership]:
        queryset = super().get_queryset(request).select_related("user", "tenant")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(tenant__in=_tenants_of(request))

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "tenant":
            kwargs["queryset"] = _tenants_of(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdmin):
    list_display = ("name", "prefix", "user", "tenant", "created_at", "last_used_at", "revoked_at")
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user", "tenant")
    readonly_fields = ("id", "prefix", "digest", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens are issued by `createapitoken`, which shows the secret once.
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdmin):
    """Read only: an audit log that operators could edit would prove nothing."""

    list_display = ("at", "actor_name", "action", "target_type", "target_name", "tenant")
    list_filter = (*TenantScopedAdmin.list_filter, "action", "target_type")
    search_fields = ("actor_name", "target_name", "target_id", "request_id")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
