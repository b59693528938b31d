"""Agent management for users of a tenant (module `scans`).

    GET/POST        /api/v1/agents
    GET/PUT/PATCH/DELETE /api/v1/agents/{id}
    GET/POST        /api/v1/agents/{id}/keys          (POST issues a key: rotation)
    DELETE          /api/v1/agents/{id}/keys/{key_id} (revokes it)

Reads need the viewer role, writes the admin role. A new key is shown once.
"""

from __future__ import annotations

from uuid import UUID

from django.db.models import Q
from rest_framework import status
from rest_framework.response import Response

from agents.api import openapi
from agents.api.serializers import (
    AgentKeyRotateRequestSerializer,
    AgentKeySerializer,
    AgentSerializer,
)
from agents.models import Agent, AgentKey
from agents.services import (
    agent_create,
    agent_delete,
    agent_key_issue,
    agent_key_revoke,
    agent_update,
)
from rediverio.api_auth import Pages, TenantApiView, TenantRequest
from rediverio.tenancy import get_for_tenant_or_404


def _agent(request: TenantRequest, agent_id: UUID) -> Agent:
    return get_for_tenant_or_404(Agent.objects.all(), request.tenant, agent_id)


class AgentsApiView(TenantApiView):
    required_module = "scans"  # agents exist to run scans


class AgentListCreateApi(AgentsApiView):
    @openapi.agents_list
    def get(self, request: TenantRequest) -> Response:
        agents = Agent.objects.for_tenant(request.tenant).order_by("name")
        for name in ("status", "health", "type"):
            if value := request.query_params.get(name):
                agents = agents.filter(**{name: value})
        if search := request.query_params.get("search"):
            agents = agents.filter(Q(name__icontains=search) | Q(hostname__icontains=search))
        paginator = Pages()
        page = paginator.paginate_queryset(agents, request, view=self)
        return paginator.get_paginated_response(AgentSerializer(page, many=True).data)

    @openapi.agents_create
    def post(self, request: TenantRequest) -> Response:
        body = AgentSerializer(data=request.data, context={"tenant": request.tenant})
        body.is_valid(raise_exception=True)
        fields = {k: v for k, v in body.validated_data.items() if k != "status"}
        agent, key = agent_create(tenant=request.tenant, created_by=request.user, **fields)
        data = AgentSerializer(agent).data
        return Response({**data, "api_key": key}, status=status.HTTP_201_CREATED)


class AgentDetailApi(AgentsApiView):
    @openapi.agents_retrieve
    def get(self, request: TenantRequest, agent_id: UUID) -> Response:
        return Response(AgentSerializer(_agent(request, agent_id)).data)

    @openapi.agents_update
    def put(self, request: TenantRequest, agent_id: UUID) -> Response:
        return self._update(request, agent_id, partial=False)

    @openapi.agents_partial_update
    def patch(self, request: TenantRequest, agent_id: UUID) -> Response:
        return self._update(request, agent_id, partial=True)

    def _update(self, request: TenantRequest, agent_id: UUID, *, partial: bool) -> Response:
        agent = _agent(request, agent_id)
        body = AgentSerializer(
            agent, data=request.data, partial=partial, context={"tenant": request.tenant}
        )
        body.is_valid(raise_exception=True)
        agent = agent_update(agent=agent, changes=body.validated_data, by=request.user)
        return Response(AgentSerializer(agent).data)

    @openapi.agents_destroy
    def delete(self, request: TenantRequest, agent_id: UUID) -> Response:
        agent_delete(agent=_agent(request, agent_id), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AgentKeysApi(AgentsApiView):
    InputSerializer = AgentKeyRotateRequestSerializer

    @openapi.agents_keys_list
    def get(self, request: TenantRequest, agent_id: UUID) -> Response:
        keys = AgentKey.objects.for_tenant(request.tenant).filter(agent=_agent(request, agent_id))
        return Response(AgentKeySerializer(keys, many=True).data)

    @openapi.agents_keys_rotate
    def post(self, request: TenantRequest, agent_id: UUID) -> Response:
        agent = _agent(request, agent_id)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        others = AgentKey.objects.for_tenant(request.tenant).filter(agent=agent).usable()
        if body.validated_data["revoke_others"]:
            for key in others:
                agent_key_revoke(key=key, by=request.user)
        key, secret = agent_key_issue(
            agent=agent, name=body.validated_data.get("name", ""), by=request.user
        )
        return Response(
            {"api_key": secret, "key": AgentKeySerializer(key).data},
            status=status.HTTP_201_CREATED,
        )


class AgentKeyRevokeApi(AgentsApiView):
    @openapi.agents_keys_revoke
    def delete(self, request: TenantRequest, agent_id: UUID, key_id: UUID) -> Response:
        agent = _agent(request, agent_id)
        key = get_for_tenant_or_404(AgentKey.objects.all(), request.tenant, key_id, agent=agent)
        return Response(AgentKeySerializer(agent_key_revoke(key=key, by=request.user)).data)
