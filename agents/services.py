"""Writes on agents and their keys."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from agents.auth import digest_agent_key, generate_agent_key, visible_prefix
from agents.models import Agent, AgentKey, AgentStatus, AgentType
from rediverio.models import Tenant

MAX_ACTIVE_KEYS_PER_AGENT = 2


class AgentLimitReached(Exception):
    pass


class TooManyAgentKeys(Exception):
    pass


@transaction.atomic
def agent_create(
    *,
    tenant: Tenant,
    name: str,
    type: str = AgentType.WORKER,
    capabilities: list[str] | None = None,
    tools: list[str] | None = None,
    labels: dict[str, str] | None = None,
    max_concurrent_jobs: int = 5,
    created_by: User | None = None,
) -> tuple[Agent, str]:
    """Register an agent and issue its first key. Returns the key, which is not stored."""
    # Lock the tenant row so two concurrent creations cannot both pass the limit check.
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    limit = tenant.limit("agent_limit")
    if limit is not None:
        existing = Agent.objects.for_tenant(tenant).exclude(status=AgentStatus.REVOKED).count()
        if existing >= limit:
            raise AgentLimitReached(
                f"The {tenant.plan} plan of {tenant.name} allows {limit} agent(s); "
                f"{existing} already exist. Revoke one or raise the limit."
            )
    agent = Agent(
        tenant=tenant,
        name=name,
        type=type,
        capabilities=sorted(set(capabilities or [])),
        tools=sorted(set(tools or [])),
        labels=labels or {},
        max_concurrent_jobs=max_concurrent_jobs,
        created_by=created_by,
    )
    agent.full_clean()
    agent.save()
    return agent, agent_key_issue(agent=agent)


@transaction.atomic
def agent_key_issue(*, agent: Agent, name: str = "") -> str:
    active = AgentKey.objects.for_tenant(agent.tenant).filter(agent=agent).usable()
    if active.count() >= MAX_ACTIVE_KEYS_PER_AGENT:
        raise TooManyAgentKeys(
            f"{agent.name} already has {MAX_ACTIVE_KEYS_PER_AGENT} active keys; revoke one first."
        )
    key = generate_agent_key()
    AgentKey.objects.create(
        tenant=agent.tenant,
        agent=agent,
        prefix=visible_prefix(key),
        digest=digest_agent_key(key),
        name=name,
    )
    return key
