"""Agents pages: the team's agents, their health and load, registering one (the key is
shown once), disabling or revoking one, and why one cannot run a given scan."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from agents.forms import AgentForm
from agents.models import Agent, AgentKey, AgentStatus
from agents.selectors import agent_eligibility, agent_list
from agents.services import AgentLimitReached, agent_create, agent_update
from rediverio.http import AppRequest, role_required, team_required
from rediverio.lib.validation import describe_validation_error
from rediverio.models import Role
from rediverio.tenancy import get_for_tenant_or_404
from scans.models import Scan

manage_agents = role_required(Role.ADMIN, "Managing agents")


def _agent(request: AppRequest, agent_id: UUID) -> Agent:
    return get_for_tenant_or_404(Agent.objects.all(), request.tenant, agent_id)


@team_required
@require_GET
def agents_page(request: AppRequest) -> HttpResponse:
    return render(request, "agents/list.html", _list_context(request, AgentForm()))


def _list_context(request: AppRequest, form: AgentForm) -> dict:
    return {
        "agents": agent_list(tenant=request.tenant),
        "form": form,
        "can_manage": request.membership.has_role(Role.ADMIN),
    }


@team_required
@require_POST
@manage_agents
def agent_register(request: AppRequest) -> HttpResponse:
    form = AgentForm(request.POST)
    if form.is_valid():
        try:
            agent, key = agent_create(
                tenant=request.tenant, created_by=request.user, **form.cleaned_data
            )
        except AgentLimitReached as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            form.add_error("name", describe_validation_error(exc))
        else:
            # The key is in this response only: it is not stored, so it cannot be shown again.
            return render(request, "agents/registered.html", {"agent": agent, "key": key})
    return render(request, "agents/list.html", _list_context(request, form), status=400)


@team_required
@require_GET
def agent_page(request: AppRequest, agent_id: UUID) -> HttpResponse:
    agent = _agent(request, agent_id)
    scans = Scan.objects.for_tenant(request.tenant).order_by("name")
    chosen = (
        scans.filter(pk=request.GET["scan"]).first() if _is_uuid(request.GET.get("scan")) else None
    )
    context = {
        "agent": agent,
        "keys": AgentKey.objects.for_tenant(request.tenant).filter(agent=agent),
        "scans": scans,
        "chosen": chosen,
        "eligibility": agent_eligibility(agent=agent, scan=chosen) if chosen else None,
        "can_manage": request.membership.has_role(Role.ADMIN),
    }
    return render(request, "agents/detail.html", context)


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _set_status(request: AppRequest, agent_id: UUID, status: str, done: str) -> HttpResponse:
    agent = _agent(request, agent_id)
    if agent.status == AgentStatus.REVOKED:
        messages.error(request, f"{agent.name} is revoked; register a new agent instead.")
    else:
        agent_update(agent=agent, changes={"status": status}, by=request.user)
        messages.success(request, f"{agent.name} {done}.")
    return redirect("agents:detail", agent_id=agent.pk)


@team_required
@require_POST
@manage_agents
def agent_disable(request: AppRequest, agent_id: UUID) -> HttpResponse:
    return _set_status(request, agent_id, AgentStatus.DISABLED, "is disabled")


@team_required
@require_POST
@manage_agents
def agent_enable(request: AppRequest, agent_id: UUID) -> HttpResponse:
    return _set_status(request, agent_id, AgentStatus.ACTIVE, "is active again")


@team_required
@require_POST
@manage_agents
def agent_revoke(request: AppRequest, agent_id: UUID) -> HttpResponse:
    return _set_status(request, agent_id, AgentStatus.REVOKED, "is revoked")
