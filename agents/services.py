"""Writes on agents and their keys, and heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from agents.auth import generate_agent_key
from agents.models import Agent, AgentHealth, AgentKey, AgentStatus, AgentType, ExecutionMode
from agents.queue import agent_commands_release
from protocol.capabilities import capabilities_of
from rediverio.audit import audit_record, changes_between
from rediverio.errors import Conflict, PlanLimitReached
from rediverio.models import AuditAction, Tenant
from rediverio.secrets import digest_secret, visible_prefix

MAX_ACTIVE_KEYS_PER_AGENT = 2


class AgentLimitReached(PlanLimitReached):
    pass


class TooManyAgentKeys(Conflict):
    code = "TOO_MANY_KEYS"


@transaction.atomic
def agent_create(
    *,
    tenant: Tenant,
    name: str,
    type: str = AgentType.WORKER,
    description: str = "",
    execution_mode: str = ExecutionMode.DAEMON,
    capabilities: list[str] | None = None,
    tools: list[str] | None = None,
    labels: dict[str, str] | None = None,
    max_concurrent_jobs: int = 5,
    created_by: User | None = None,
) -> tuple[Agent, str]:
    """Register an agent and issue its first key. Returns the key, which is not stored.

    An agent registered with tools and no capabilities has those its tools give
    (protocol/capabilities.py), as the agent program advertises them: naming its
    tools is enough to let it run them. Capabilities named explicitly are kept as named.
    """
    if not capabilities:
        capabilities = capabilities_of(tools or [])
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
        description=description,
        execution_mode=execution_mode,
        capabilities=sorted(set(capabilities or [])),
        tools=sorted(set(tools or [])),
        labels=labels or {},
        max_concurrent_jobs=max_concurrent_jobs,
        created_by=created_by,
    )
    agent.full_clean()
    agent.save()
    _, key = agent_key_issue(agent=agent)
    audit_record(
        tenant=tenant,
        by=created_by,
        action=AuditAction.AGENT_REGISTERED,
        target=agent,
        details={"type": agent.type, "tools": agent.tools, "capabilities": agent.capabilities},
    )
    return agent, key


@transaction.atomic
def agent_key_issue(*, agent: Agent, name: str = "", by=None) -> tuple[AgentKey, str]:
    """Issue a key; returns it with its secret, which is not stored."""
    active = AgentKey.objects.for_tenant(agent.tenant).filter(agent=agent).usable()
    if active.count() >= MAX_ACTIVE_KEYS_PER_AGENT:
        raise TooManyAgentKeys(
            f"{agent.name} already has {MAX_ACTIVE_KEYS_PER_AGENT} active keys; revoke one first."
        )
    secret = generate_agent_key()
    key = AgentKey.objects.create(
        tenant=agent.tenant,
        agent=agent,
        prefix=visible_prefix(secret),
        digest=digest_secret(secret),
        name=name,
    )
    audit_record(
        tenant=agent.tenant,
        by=by,
        action=AuditAction.AGENT_KEY_ISSUED,
        target=agent,
        details={"key": key.prefix, "name": name},
    )
    return key, secret


HEALTH_BY_REPORTED_STATUS = {
    "running": AgentHealth.ONLINE,
    "": AgentHealth.ONLINE,
    "error": AgentHealth.ERROR,
    "stopping": AgentHealth.OFFLINE,
    "stopped": AgentHealth.OFFLINE,
}


def agent_heartbeat(*, agent: Agent, report: dict[str, Any], now: datetime | None = None) -> Agent:
    """Record a heartbeat: the agent is alive, with these metrics and tools.

    Merge rule: a heartbeat says what the agent found on its machine. It goes into
    `reported_tools` (`tools` or `scanners`, plus `collectors`) and
    `reported_capabilities`, each replaced whole when the heartbeat names it and kept
    when it does not. It never writes the `tools` and `capabilities` an operator
    configured, so an empty `scanners: []` takes nothing away from what the agent was
    configured for; selection uses the union of both (`Agent.effective_tools`,
    `Agent.effective_capabilities`). Capabilities are taken as reported, not derived
    from the tools here: the agent program advertises those its tools give, and an
    agent that advertises none has those an operator gave it.

    One UPDATE, no read: heartbeats are the most frequent write in the system.
    """
    now = now or timezone.now()
    fields: dict[str, Any] = {
        "health": HEALTH_BY_REPORTED_STATUS[report.get("status", "")],
        "last_seen_at": now,
        "updated_at": now,
    }
    for name in ("version", "hostname", "region", "cpu_percent", "memory_percent", "active_jobs"):
        if name in report:
            fields[name] = report[name]
    if "message" in report:
        fields["status_message"] = report["message"][:500]
    tools = report.get("tools", report.get("scanners"))
    if tools is not None:
        fields["reported_tools"] = sorted({*tools, *report.get("collectors", [])})
    if "capabilities" in report:
        fields["reported_capabilities"] = sorted(set(report["capabilities"]))
    Agent.objects.filter(pk=agent.pk).update(**fields)
    for name, value in fields.items():
        setattr(agent, name, value)
    return agent


@transaction.atomic
def agent_update(*, agent: Agent, changes: dict[str, Any], by=None) -> Agent:
    """Apply validated changes. Disabling or revoking an agent takes back its work, which
    it could no longer report on."""
    was_active = agent.status == AgentStatus.ACTIVE
    before = {name: getattr(agent, name) for name in changes}
    for name, value in changes.items():
        setattr(agent, name, value)
    agent.save()
    if changed := changes_between(before, changes):
        audit_record(
            tenant=agent.tenant,
            by=by,
            action=AuditAction.AGENT_UPDATED,
            target=agent,
            details={"changes": changed},
        )
    if was_active and agent.status != AgentStatus.ACTIVE:
        agent_commands_release(agent=agent, reason=f"agent {agent.status}")
    if agent.status == AgentStatus.REVOKED:
        AgentKey.objects.for_tenant(agent.tenant).filter(agent=agent).usable().update(
            revoked_at=timezone.now()
        )
    return agent


@transaction.atomic
def agent_delete(*, agent: Agent, by=None) -> None:
    agent_commands_release(agent=agent, reason="agent deleted")
    audit_record(tenant=agent.tenant, by=by, action=AuditAction.AGENT_DELETED, target=agent)
    agent.delete()


@transaction.atomic
def agent_key_revoke(*, key: AgentKey, by=None) -> AgentKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            tenant=key.tenant,
            by=by,
            action=AuditAction.AGENT_KEY_REVOKED,
            target=key.agent,
            details={"key": key.prefix, "name": key.name},
        )
    return key
