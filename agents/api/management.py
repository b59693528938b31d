"""Agent management for users of a tenant (module `scans`).

    GET/POST        /api/v1/agents
    GET/PUT/PATCH/DELETE /api/v1/agents/{id}
    GET/POST        /api/v1/agents/{id}/keys          (POST issues a key: rotation)
    DELETE          /api/v1/agents/{id}/keys/{key_id} (revokes it)

Reads need the viewer role, writes the admin role. A new key is shown once.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from agents.api.serializers import AgentKeySerializer, AgentPageSerializer, AgentSerializer
from agents.models import Agent, AgentKey
from agents.services import (
    AgentLimitReached,
    TooManyAgentKeys,
    agent_create,
    agent_delete,
    agent_key_issue,
    agent_key_revoke,
    agent_update,
)
from rediverio.api_auth import Pages, TenantApiView, TenantRequest
from rediverio.api_errors import ApiError, error_reply

AGENT_EXAMPLE = {
    "id": "0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f",
    "name": "build-runner-eu",
    "description": "CI runners in the EU cluster",
    "type": "worker",
    "execution_mode": "daemon",
    "status": "active",
    "health": "online",
    "capabilities": ["sast", "secrets"],
    "tools": ["bandit", "semgrep"],
    "reported_capabilities": ["sast", "secrets"],
    "reported_tools": ["bandit", "gitleaks", "semgrep"],
    "labels": {"region": "eu"},
    "max_concurrent_jobs": 4,
    "version": "1.4.0",
    "hostname": "build-7",
    "region": "eu-west-1",
    "cpu_percent": 12.5,
    "memory_percent": 41.0,
    "active_jobs": 1,
    "last_seen_at": "2026-11-26T12:00:00Z",
    "created_at": "2026-11-01T09:00:00Z",
    "updated_at": "2026-11-26T12:00:00Z",
}


def _agent(request: TenantRequest, agent_id) -> Agent:
    try:
        return get_object_or_404(Agent.objects.for_tenant(request.tenant), pk=agent_id)
    except ValidationError as exc:  # not a UUID
        raise ApiError(404, "NOT_FOUND", "No such agent.") from exc


class AgentCreatedSerializer(AgentSerializer):
    api_key = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(AgentSerializer.Meta):
        fields = [*AgentSerializer.Meta.fields, "api_key"]


class AgentsApiView(TenantApiView):
    required_module = "scans"  # agents exist to run scans


class AgentListCreateApi(AgentsApiView):
    @extend_schema(
        operation_id="agents_list",
        tags=["agents"],
        summary="List the team's agents",
        parameters=[
            OpenApiParameter("status", str, enum=["active", "disabled", "revoked"]),
            OpenApiParameter("health", str, enum=["unknown", "online", "offline", "error"]),
            OpenApiParameter("type", str, enum=["runner", "worker", "collector", "sensor"]),
            OpenApiParameter("search", str, description="In name and hostname"),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={200: AgentPageSerializer},
        examples=[
            OpenApiExample(
                "Agents",
                response_only=True,
                value={"count": 1, "next": None, "previous": None, "results": [AGENT_EXAMPLE]},
            )
        ],
    )
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

    @extend_schema(
        operation_id="agents_create",
        tags=["agents"],
        summary="Register an agent; its API key is in the reply, once",
        request=AgentSerializer,
        responses={201: AgentCreatedSerializer},
        examples=[
            OpenApiExample(
                "New worker",
                request_only=True,
                value={
                    "name": "build-runner-eu",
                    "type": "worker",
                    "capabilities": ["sast", "secrets"],
                    "tools": ["bandit", "semgrep"],
                    "labels": {"region": "eu"},
                    "max_concurrent_jobs": 4,
                },
            ),
            OpenApiExample(
                "Created",
                response_only=True,
                value={**AGENT_EXAMPLE, "api_key": "rdv_Vb3…(shown once)"},
            ),
        ],
    )
    def post(self, request: TenantRequest) -> Response:
        body = AgentSerializer(data=request.data, context={"tenant": request.tenant})
        body.is_valid(raise_exception=True)
        fields = {k: v for k, v in body.validated_data.items() if k != "status"}
        try:
            agent, key = agent_create(tenant=request.tenant, created_by=request.user, **fields)
        except AgentLimitReached as exc:
            raise ApiError(403, "PLAN_LIMIT", str(exc)) from exc
        data = AgentSerializer(agent).data
        return Response({**data, "api_key": key}, status=status.HTTP_201_CREATED)


class AgentDetailApi(AgentsApiView):
    @extend_schema(
        operation_id="agents_retrieve",
        tags=["agents"],
        summary="An agent, with its health and metrics",
        responses=AgentSerializer,
        examples=[OpenApiExample("Agent", response_only=True, value=AGENT_EXAMPLE)],
    )
    def get(self, request: TenantRequest, agent_id) -> Response:
        return Response(AgentSerializer(_agent(request, agent_id)).data)

    @extend_schema(
        operation_id="agents_update",
        tags=["agents"],
        summary="Replace an agent's settings; disabling or revoking it takes back its work",
        request=AgentSerializer,
        responses=AgentSerializer,
    )
    def put(self, request: TenantRequest, agent_id) -> Response:
        return self._update(request, agent_id, partial=False)

    @extend_schema(
        operation_id="agents_partial_update",
        tags=["agents"],
        summary="Change some of an agent's settings (e.g. disable it)",
        request=AgentSerializer,
        responses=AgentSerializer,
        examples=[OpenApiExample("Disable", request_only=True, value={"status": "disabled"})],
    )
    def patch(self, request: TenantRequest, agent_id) -> Response:
        return self._update(request, agent_id, partial=True)

    def _update(self, request: TenantRequest, agent_id, *, partial: bool) -> Response:
        agent = _agent(request, agent_id)
        body = AgentSerializer(
            agent, data=request.data, partial=partial, context={"tenant": request.tenant}
        )
        body.is_valid(raise_exception=True)
        agent = agent_update(agent=agent, changes=body.validated_data, by=request.user)
        return Response(AgentSerializer(agent).data)

    @extend_schema(
        operation_id="agents_destroy",
        tags=["agents"],
        summary="Delete an agent; its work returns to the queue",
        responses={204: None},
    )
    def delete(self, request: TenantRequest, agent_id) -> Response:
        agent_delete(agent=_agent(request, agent_id), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AgentKeyIssuedSerializer(serializers.Serializer):
    api_key = serializers.CharField(help_text="Shown once; store it now.")
    key = AgentKeySerializer()


class AgentKeysApi(AgentsApiView):
    @extend_schema_serializer(component_name="AgentKeyRotateRequest")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(required=False, allow_blank=True, max_length=100)
        revoke_others = serializers.BooleanField(
            required=False, default=False, help_text="Revoke the agent's other keys at once."
        )

    @extend_schema(
        operation_id="agents_keys_list",
        tags=["agents"],
        summary="An agent's keys (prefixes only; secrets are never shown again)",
        responses=AgentKeySerializer(many=True),
    )
    def get(self, request: TenantRequest, agent_id) -> Response:
        keys = AgentKey.objects.for_tenant(request.tenant).filter(agent=_agent(request, agent_id))
        return Response(AgentKeySerializer(keys, many=True).data)

    @extend_schema(
        operation_id="agents_keys_rotate",
        tags=["agents"],
        summary="Issue a new key (at most two active); optionally revoke the others",
        request=InputSerializer,
        responses={
            201: AgentKeyIssuedSerializer,
            409: error_reply("The agent has two active keys already (TOO_MANY_KEYS)."),
        },
        examples=[
            OpenApiExample(
                "Rotate", request_only=True, value={"name": "2026-11", "revoke_others": True}
            )
        ],
    )
    def post(self, request: TenantRequest, agent_id) -> Response:
        agent = _agent(request, agent_id)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        others = AgentKey.objects.for_tenant(request.tenant).filter(agent=agent).usable()
        if body.validated_data["revoke_others"]:
            for key in others:
                agent_key_revoke(key=key, by=request.user)
        try:
            key, secret = agent_key_issue(
                agent=agent, name=body.validated_data.get("name", ""), by=request.user
            )
        except TooManyAgentKeys as exc:
            raise ApiError(409, "TOO_MANY_KEYS", str(exc)) from exc
        return Response(
            {"api_key": secret, "key": AgentKeySerializer(key).data},
            status=status.HTTP_201_CREATED,
        )


class AgentKeyRevokeApi(AgentsApiView):
    @extend_schema(
        operation_id="agents_keys_revoke",
        tags=["agents"],
        summary="Revoke a key",
        responses={200: AgentKeySerializer},
    )
    def delete(self, request: TenantRequest, agent_id, key_id) -> Response:
        agent = _agent(request, agent_id)
        try:
            key = get_object_or_404(
                AgentKey.objects.for_tenant(request.tenant).filter(agent=agent), pk=key_id
            )
        except ValidationError as exc:
            raise ApiError(404, "NOT_FOUND", "No such key.") from exc
        return Response(AgentKeySerializer(agent_key_revoke(key=key, by=request.user)).data)
