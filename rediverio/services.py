"""Writes on tenants and memberships."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from rediverio.api_auth import generate_api_token
from rediverio.errors import PlanLimitReached
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


class MemberLimitReached(PlanLimitReached):
    """The team's plan allows no more members (its `max_members`)."""


@transaction.atomic
def membership_grant(*, tenant: Tenant, user: User, role: str = Role.MEMBER) -> Membership:
    """Make `user` a member of `tenant` with `role`, or change the role of a member.

    Raises MemberLimitReached for a new member beyond the plan's `max_members`; a member
    already there is never refused. (The Django admin's membership forms do not come
    here: operators are exempt from plan limits, as they grant what a plan does not.)
    """
    membership = Membership.objects.for_tenant(tenant).filter(user=user).first()
    if membership is None:
        # The tenant row locked until commit, so two grants at once cannot both take the
        # last place. NO KEY, as for assets (findings/services.py `assets_allowance`):
        # writes of rows that merely reference the tenant need not wait.
        locked = Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
        limit = locked.limit("max_members")
        existing = 0 if limit is None else Membership.objects.for_tenant(tenant).count()
        if limit is not None and existing >= limit:
            raise MemberLimitReached(
                f"The {locked.plan} plan of {locked.name} allows {limit} member(s) "
                f"(max_members); {existing} already belong to it. Remove a member or "
                "raise the limit."
            )
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
