"""The agent protocol: what remote agents call (wire-compatible with the reference SDK).

POST /api/v1/agent/heartbeat
GET  /api/v1/agent/commands?limit=N                → a bare JSON array (leases them)
POST /api/v1/agent/commands/{id}/acknowledge|ack
POST /api/v1/agent/commands/{id}/start
POST /api/v1/agent/commands/{id}/progress          {"percent": 40, "message": "…"}
POST /api/v1/agent/commands/{id}/complete          {"result": {…}}
POST /api/v1/agent/commands/{id}/fail              {"error_message": "…"}
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from django.conf import settings
from django.db import transaction
from rest_framework.request import Request
from rest_framework.response import Response

from agents import queue
from agents.api import openapi
from agents.api.serializers import (
    CommandCompleteRequestSerializer,
    CommandFailRequestSerializer,
    CommandProgressRequestSerializer,
    CommandsPollQuerySerializer,
    HeartbeatRequestSerializer,
    command_wire,
)
from agents.auth import AgentApiView, AgentRequest
from agents.models import Command
from agents.services import agent_heartbeat
from scans.services import session_follow_command


class AgentHeartbeatApi(AgentApiView):
    required_module = None  # an agent of a tenant without scans may still report in
    records_sighting = False  # agent_heartbeat writes last_seen_at and health itself

    InputSerializer = HeartbeatRequestSerializer

    @openapi.agent_heartbeat
    def post(self, request: AgentRequest) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        report = self.InputSerializer(data=data)
        report.is_valid(raise_exception=True)
        agent = agent_heartbeat(agent=request.user, report=report.validated_data)
        return Response({"status": "ok", "agent_id": agent.pk, "tenant_id": agent.tenant_id})


class AgentCommandsPollApi(AgentApiView):
    QuerySerializer = CommandsPollQuerySerializer

    @openapi.agent_commands_poll
    def get(self, request: AgentRequest) -> Response:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = min(query.validated_data["limit"], settings.AGENT_POLL_MAX_LIMIT)
        commands = queue.lease_commands(agent=request.user, limit=limit)
        return Response([command_wire(c) for c in commands])


def _lifecycle(request: Request, move: Callable[..., Command], command_id: UUID, **kwargs):
    # A refusal (queue.QueueError: not found, held by another agent, canceled, a move
    # its state does not allow) rolls this back and reaches the client as its 404 or 409.
    with transaction.atomic():
        command = move(agent=request.user, command_id=command_id, **kwargs)
        # The scan session this command carries follows it (running, progress,
        # completed or failed, and the workflow's next stage).
        session_follow_command(command=command)
    return Response(command_wire(command))


class AgentCommandAcknowledgeApi(AgentApiView):
    @openapi.agent_command_acknowledge
    def post(self, request: AgentRequest, command_id: UUID) -> Response:
        return _lifecycle(request, queue.command_acknowledge, command_id)


class AgentCommandAckApi(AgentApiView):
    @openapi.agent_command_ack
    def post(self, request: AgentRequest, command_id: UUID) -> Response:
        return _lifecycle(request, queue.command_acknowledge, command_id)


class AgentCommandStartApi(AgentApiView):
    @openapi.agent_command_start
    def post(self, request: AgentRequest, command_id: UUID) -> Response:
        return _lifecycle(request, queue.command_start, command_id)


class AgentCommandProgressApi(AgentApiView):
    InputSerializer = CommandProgressRequestSerializer

    @openapi.agent_command_progress
    def post(self, request: AgentRequest, command_id: UUID) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        return _lifecycle(
            request,
            queue.command_progress,
            command_id,
            percent=data.get("percent", data.get("progress")),
            message=data.get("message", ""),
        )


class AgentCommandCompleteApi(AgentApiView):
    InputSerializer = CommandCompleteRequestSerializer

    @openapi.agent_command_complete
    def post(self, request: AgentRequest, command_id: UUID) -> Response:
        body = self.InputSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        return _lifecycle(
            request, queue.command_complete, command_id, result=body.validated_data["result"]
        )


class AgentCommandFailApi(AgentApiView):
    InputSerializer = CommandFailRequestSerializer

    @openapi.agent_command_fail
    def post(self, request: AgentRequest, command_id: UUID) -> Response:
        body = self.InputSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        message = body.validated_data.get("error_message") or body.validated_data.get("error", "")
        return _lifecycle(request, queue.command_fail, command_id, error_message=message)
