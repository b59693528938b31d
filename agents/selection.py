"""Which agent may run which command: a rule in six steps.

1. capabilities  — the agent has every capability the work requires (a scan requires the
                   capability of its tool: protocol/capabilities.py);
2. tools         — the agent has every tool the work requires;
3. health        — work (scan, collect) goes only to an agent that is administratively
                   active and online: never to one in `error` (it said so in its
                   heartbeat) or `offline`. Control commands (cancel, health check,
                   config update) reach an agent whatever its health;
4. capacity      — the agent has a free job slot;
5. tags          — every routing tag of the work matches one of the agent's labels:
                   "key=value" needs that label value, a bare "key" needs the label;
6. tenant runner — `run_on_tenant_runner` work goes only to `runner` agents, and runner
                   agents (one-shot CI jobs) take scan work only when a scan asks for them.

Besides, work aimed at one agent (`target_agent`) goes to that agent only, collect work
goes to collectors, and scan work to workers (or runners, rule 6).

An agent's tools and capabilities are its effective ones: what an operator configured
plus what its heartbeats report (`Agent.effective_tools`); a heartbeat never removes a
configured one.

The rule exists twice, in one file, and a test proves the two agree on every case:
`ineligibility_reasons` in Python (routing at trigger time, "why not" in the UI and the
logs) and `commands_for_agent` as a SQL filter (the poll, where the database must pick
among thousands of queued commands without loading them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db.models import Q

import protocol.commands as protocol_commands
from agents.models import Agent, AgentHealth, AgentStatus, AgentType, Command, CommandType
from protocol.capabilities import required_capabilities

# protocol/commands.py says which commands are work and which are control.
WORK_TYPES = tuple(CommandType(kind) for kind in protocol_commands.WORK_TYPES)
CONTROL_TYPES = tuple(CommandType(kind) for kind in protocol_commands.CONTROL_TYPES)


@dataclass(frozen=True)
class Requirements:
    """What a piece of work asks of the agent that runs it."""

    command_type: str = CommandType.SCAN
    capabilities: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    target_agent_id: object | None = None
    run_on_tenant_runner: bool = False

    @classmethod
    def for_scan(
        cls, *, tool: str, tags: Iterable[str] = (), run_on_tenant_runner: bool = False
    ) -> Requirements:
        """What a scan command running `tool` asks: the tool, the capability the tool
        needs, the scan's routing tags and runner flag. The one place this is decided:
        the commands a scan queues carry it, and "why not" answers are given against it."""
        return cls(
            command_type=CommandType.SCAN,
            capabilities=required_capabilities(tool),
            tools=(tool,),
            tags=tuple(tags),
            run_on_tenant_runner=run_on_tenant_runner,
        )

    @classmethod
    def of(cls, command: Command) -> Requirements:
        return cls(
            command_type=command.type,
            capabilities=tuple(command.required_capabilities),
            tools=tuple(command.required_tools),
            tags=tuple(command.tags),
            target_agent_id=command.target_agent_id,
            run_on_tenant_runner=command.run_on_tenant_runner,
        )


@dataclass
class Verdict:
    agent: Agent
    reasons: list[str] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return not self.reasons


def label_terms(labels: Mapping[str, str]) -> list[str]:
    """The tags an agent's labels satisfy: {"region": "eu"} gives ["region", "region=eu"]."""
    terms = []
    for key, value in labels.items():
        terms.append(str(key))
        terms.append(f"{key}={value}")
    return terms


def _types_taken_by(agent_type: str, run_on_tenant_runner: bool) -> set[str]:
    """Command types an agent of this type takes (rule 6 and the type split)."""
    taken: set[str] = set(CONTROL_TYPES)
    if agent_type == AgentType.WORKER and not run_on_tenant_runner:
        taken.add(CommandType.SCAN)
    if agent_type == AgentType.RUNNER and run_on_tenant_runner:
        taken.add(CommandType.SCAN)
    if agent_type == AgentType.COLLECTOR:
        taken.add(CommandType.COLLECT)
    return taken


def _missing(needed: Iterable[str], offered: Iterable[str]) -> list[str]:
    offered = set(offered)
    return sorted({item for item in needed if item not in offered})


def _health_reason(agent: Agent) -> str:
    if agent.status != AgentStatus.ACTIVE:
        return f"agent is {agent.status}"
    if agent.health == AgentHealth.ERROR:
        said = f": {agent.status_message}" if agent.status_message else ""
        return f"agent reported an error{said}"[:300]
    return f"agent is {agent.health}, not online"


def ineligibility_reasons(
    agent: Agent, needs: Requirements, *, running_jobs: int | None = None
) -> list[str]:
    """Why `agent` may not take work with these needs; empty when it may.

    `running_jobs` is the agent's current work count; leave it None to skip the capacity
    step (the poll caps what it hands out at the free slots itself). The health step
    always counts for work; at the poll, the caller first records the poll as a sign of
    life, so an agent whose health was `offline` or `unknown` only for its silence is
    online again, and one that reported an error stays in error.
    """
    reasons = []
    if needs.target_agent_id is not None and needs.target_agent_id != agent.pk:
        reasons.append("the work is aimed at another agent")
    if missing := _missing(needs.capabilities, agent.effective_capabilities):
        reasons.append(f"missing capabilities: {', '.join(missing)}")
    if missing := _missing(needs.tools, agent.effective_tools):
        reasons.append(f"missing tools: {', '.join(missing)}")
    if needs.command_type in WORK_TYPES:
        if not agent.takes_work:
            reasons.append(_health_reason(agent))
        if running_jobs is not None and running_jobs >= agent.max_concurrent_jobs:
            reasons.append(f"no free job slot ({running_jobs}/{agent.max_concurrent_jobs} busy)")
    if missing := _missing(needs.tags, label_terms(agent.labels)):
        reasons.append(f"labels do not match tags: {', '.join(missing)}")
    if needs.command_type not in _types_taken_by(agent.type, needs.run_on_tenant_runner):
        if needs.run_on_tenant_runner:
            reasons.append("the scan runs only on tenant runners")
        elif agent.type == AgentType.RUNNER:
            reasons.append("runners take only scans that ask for tenant runners")
        else:
            reasons.append(f"a {agent.type} agent does not take {needs.command_type} work")
    return reasons


def commands_for_agent(agent: Agent) -> Q:
    """The same rule as `ineligibility_reasons` (without capacity), as a filter on
    commands. The agent's health and status are known before the query: an agent that
    takes no work is offered control commands only."""
    by_type = Q(type__in=CONTROL_TYPES)
    for flag in (False, True):
        work = _types_taken_by(agent.type, flag) - set(CONTROL_TYPES)
        if work and agent.takes_work:
            by_type |= Q(type__in=sorted(work), run_on_tenant_runner=flag)
    return (
        (Q(target_agent__isnull=True) | Q(target_agent=agent))
        & Q(required_capabilities__subset_of=agent.effective_capabilities)
        & Q(required_tools__subset_of=agent.effective_tools)
        & Q(tags__subset_of=label_terms(agent.labels))
        & by_type
    )


def evaluate_agents(
    agents: Iterable[Agent], needs: Requirements, running_jobs: Mapping[object, int]
) -> list[Verdict]:
    return [
        Verdict(
            agent, ineligibility_reasons(agent, needs, running_jobs=running_jobs.get(agent.pk, 0))
        )
        for agent in agents
    ]


def choose_agent(verdicts: Iterable[Verdict], running_jobs: Mapping[object, int]) -> Agent | None:
    """The eligible agent with the most free slots; ties go by name, for a stable choice."""
    eligible = [v.agent for v in verdicts if v.eligible]
    if not eligible:
        return None
    return min(
        eligible,
        key=lambda a: (-(a.max_concurrent_jobs - running_jobs.get(a.pk, 0)), a.name),
    )
