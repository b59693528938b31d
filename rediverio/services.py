"""Writes on tenants and memberships."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from rediverio.models import Membership, Plan, Role, Tenant


@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    plan: str = Plan.TEAM,
    agent_limit: int | None = None,
) -> Tenant:
    limits_override = {} if agent_limit is None else {"agent_limit": agent_limit}
    tenant = Tenant(slug=slug, name=name, plan=plan, limits_override=limits_override)
    tenant.full_clean()
    tenant.save()
    return tenant


def membership_grant(*, tenant: Tenant, user: User, role: str = Role.MEMBER) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    return membership
