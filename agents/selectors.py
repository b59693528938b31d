"""Reads on agents and commands, always scoped to one tenant."""

from __future__ import annotations

from django.db.models import Count

from agents.models import Agent, AgentHealth
from rediverio.models import Tenant


def agents_by_health(*, tenant: Tenant) -> dict[str, int]:
    counts = dict(Agent.objects.for_tenant(tenant).values_list("health").annotate(n=Count("id")))
    return {health: counts.get(health, 0) for health in AgentHealth.values}
