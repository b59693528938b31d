"""Reads on agents and commands, always scoped to one tenant."""

from __future__ import annotations

from django.db.models import Count
from django.utils import timezone

from agents.models import Agent, AgentHealth, Command
from agents.queue import HELD_STATUSES, held_work_count
from agents.selection import WORK_TYPES, Requirements, ineligibility_reasons
from rediverio.models import Tenant


def agents_by_health(*, tenant: Tenant) -> dict[str, int]:
    counts = dict(Agent.objects.for_tenant(tenant).values_list("health").annotate(n=Count("id")))
    return {health: counts.get(health, 0) for health in AgentHealth.values}


def agent_list(*, tenant: Tenant) -> list[Agent]:
    """The team's agents, each with `held` = the work it holds now (two queries)."""
    agents = list(Agent.objects.for_tenant(tenant).order_by("name"))
    held = dict(
        Command.objects.for_tenant(tenant)
        .filter(agent__in=agents, status__in=HELD_STATUSES, type__in=WORK_TYPES)
        .values_list("agent_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for agent in agents:
        agent.held = held.get(agent.pk, 0)
    return agents


def agent_eligibility(*, agent: Agent, scan) -> list[tuple[str, list[str]]]:
    """For each tool of each stage of `scan`: why `agent` could not run it (empty: it can)."""
    running = held_work_count(agent, timezone.now())
    verdicts = []
    for stage in scan.stages:
        for tool in stage["tools"]:
            needs = Requirements(
                tools=(tool,), tags=tuple(scan.tags), run_on_tenant_runner=scan.run_on_tenant_runner
            )
            verdicts.append((tool, ineligibility_reasons(agent, needs, running_jobs=running)))
    return verdicts
