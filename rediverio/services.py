"""Writes on tenants and memberships."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from rediverio.api_auth import generate_api_token
from rediverio.models import ApiToken, Membership, Plan, Role, Tenant
from rediverio.secrets import digest_secret, visible_prefix


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


def api_token_create(*, tenant: Tenant, user: User, name: str) -> tuple[ApiToken, str]:
    """Issue a personal API token; returns the secret, which is not stored."""
    if not Membership.objects.for_tenant(tenant).filter(user=user).exists():
        raise ValueError(f"{user} is not a member of {tenant}")
    secret = generate_api_token()
    token = ApiToken.objects.create(
        tenant=tenant,
        user=user,
        name=name,
        prefix=visible_prefix(secret),
        digest=digest_secret(secret),
    )
    return token, secret
