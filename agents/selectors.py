"""Reads on agents and commands, always scoped to one tenant."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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
            needs = Requirements.for_scan(
                tool=tool, tags=scan.tags, run_on_tenant_runner=scan.run_on_tenant_runner
            )
            verdicts.append((tool, ineligibility_reasons(agent, needs, running_jobs=running)))
    return verdicts


@dataclass(frozen=True)
class ToolCoverage:
    """Whether a team has an agent for a tool: one active agent with the capability the
    tool needs and the tool itself (configured or reported), health aside."""

    tool: str
    capabilities: tuple[str, ...]
    with_capabilities: int
    able: int

    @property
    def problem(self) -> str:
        if self.capabilities and not self.with_capabilities:
            return f"no agent of this team has the {', '.join(self.capabilities)} capability"
        if not self.able:
            return f"no agent of this team has {self.tool}"
        return ""


def tool_coverage(*, tenant: Tenant, tools: Iterable[str]) -> list[ToolCoverage]:
    """For each tool, how many of the team's active agents could run it. One query."""
    agents = list(
        Agent.objects.for_tenant(tenant)
        .active()
        .only("capabilities", "reported_capabilities", "tools", "reported_tools")
    )
    coverage = []
    for tool in dict.fromkeys(tools):
        needs = Requirements.for_scan(tool=tool)
        capable = [a for a in agents if set(needs.capabilities) <= set(a.effective_capabilities)]
        able = [a for a in capable if set(needs.tools) <= set(a.effective_tools)]
        coverage.append(ToolCoverage(tool, needs.capabilities, len(capable), len(able)))
    return coverage
