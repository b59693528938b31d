"""Tenancy: teams (tenants), their plan, and who belongs to them."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MinLengthValidator
from django.db import models
from django.utils import timezone

from rediverio.lib.db import check_constraint_for
from rediverio.lib.ids import uuid7
from rediverio.plans import MODULES, PLANS, UNLIMITED
from rediverio.tenancy import TenantOwned, TenantQuerySet


class Plan(models.TextChoices):
    FREE = "free", "Free"
    TEAM = "team", "Team"
    BUSINESS = "business", "Business"
    ENTERPRISE = "enterprise", "Enterprise"


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    slug = models.SlugField(max_length=64, unique=True, validators=[MinLengthValidator(2)])
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.TEAM)
    limits_override = models.JSONField(
        default=dict, blank=True, help_text='Per-tenant limits, e.g. {"agent_limit": 10}.'
    )
    modules_override = models.JSONField(
        default=dict, blank=True, help_text='Modules switched on or off, e.g. {"scans": false}.'
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tenants"
        ordering = ["name"]
        constraints = [check_constraint_for("plan", Plan, name="tenants_plan_valid")]

    def __str__(self) -> str:
        return self.name

    def limit(self, name: str) -> int | None:
        """The tenant's value of a plan limit; None means unlimited."""
        value = self.limits_override.get(name, PLANS[self.plan]["limits"].get(name, UNLIMITED))
        return None if value is None or int(value) == UNLIMITED else int(value)

    @property
    def modules(self) -> frozenset[str]:
        enabled = set(PLANS[self.plan]["modules"])
        for module, on in self.modules_override.items():
            if module in MODULES:
                (enabled.add if on else enabled.discard)(module)
        return frozenset(enabled)

    def has_module(self, module: str) -> bool:
        return module in self.modules


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


ROLE_RANK: dict[str, int] = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class MembershipQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> MembershipQuerySet:
        return self.filter(tenant=tenant)


class Membership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        db_table = "memberships"
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="memberships_one_per_user"),
            check_constraint_for("role", Role, name="memberships_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"

    def has_role(self, at_least: Role) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[at_least]


class ApiTokenQuerySet(TenantQuerySet):
    def usable(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(TenantOwned):
    """A user's token for the management API in one tenant (CI pipelines, scripts).

    It acts with its user's current role in that tenant; removing the membership
    silences it. Only the SHA-256 digest and a visible prefix are stored.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[ApiToken]] = ApiTokenQuerySet.as_manager()

    class Meta:
        db_table = "api_tokens"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["prefix"], name="api_tokens_by_prefix")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AuditAction(models.TextChoices):
    SCAN_CREATED = "scan.created", "Scan created"
    SCAN_UPDATED = "scan.updated", "Scan changed"
    SCAN_STATUS_CHANGED = "scan.status_changed", "Scan paused / activated"
    SCAN_CLONED = "scan.cloned", "Scan cloned"
    SCAN_DELETED = "scan.deleted", "Scan deleted"
    SCAN_TRIGGERED = "scan.triggered", "Scan run started"
    SESSION_STOPPED = "session.stopped", "Session stopped"
    SESSION_RETRIED = "session.retried", "Session retried"
    PROFILE_CREATED = "profile.created", "Profile created"
    PROFILE_UPDATED = "profile.updated", "Profile changed"
    PROFILE_CLONED = "profile.cloned", "Profile cloned"
    PROFILE_DELETED = "profile.deleted", "Profile deleted"
    AGENT_REGISTERED = "agent.registered", "Agent registered"
    AGENT_UPDATED = "agent.updated", "Agent changed"
    AGENT_DELETED = "agent.deleted", "Agent deleted"
    AGENT_KEY_ISSUED = "agent.key_issued", "Agent key issued"
    AGENT_KEY_REVOKED = "agent.key_revoked", "Agent key revoked"
    FINDING_TRIAGED = "finding.triaged", "Finding triaged"


class AuditEvent(TenantOwned):
    """Who did what, when, to which scan, agent or finding (`rediverio/audit.py`).

    The target is kept by type, id and name rather than by foreign key: the record of a
    deletion must outlive what was deleted. The actor's name is copied for the same reason.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64)
    target_name = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        db_table = "audit_events"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-at", "-id"], name="audit_events_by_tenant"),
            models.Index(
                fields=["tenant", "target_type", "target_id"], name="audit_events_by_target"
            ),
        ]
        constraints = [
            check_constraint_for("action", AuditAction, name="audit_events_action_valid")
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target_name}"
