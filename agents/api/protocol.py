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

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from agents import queue
from agents.api.serializers import CommandSerializer, command_wire
from agents.auth import AgentKeyAuthentication, AgentRequest, agent_seen
from agents.models import Agent, Command
from agents.services import agent_heartbeat
from ingest.body import EncodedJSONParser
from rediverio.api_auth import require_module
from rediverio.api_errors import ApiAutoSchema, ApiError, refuse_null_characters
from rediverio.validators import no_null_characters
from scans.services import session_follow_command

QUEUE_ERROR_STATUS = {
    queue.CommandNotFound: 404,
    queue.LeaseConflict: 409,
    queue.InvalidTransition: 409,
    queue.CommandCanceled: 409,
}

ERRORS = {
    401: OpenApiResponse(description="Missing, unknown, revoked or expired key."),
    403: OpenApiResponse(description="Agent disabled or revoked, or module not in the plan."),
    429: OpenApiResponse(description="Too many requests from this agent."),
}
LIFECYCLE_ERRORS = {
    **ERRORS,
    404: OpenApiResponse(description="No such command in this agent's tenant."),
    409: OpenApiResponse(
        description="Held by another agent (LEASE_CONFLICT), canceled (COMMAND_CANCELED) or "
        "not in a state that allows this (INVALID_TRANSITION)."
    ),
}


COMMAND_EXAMPLE = {
    "id": "0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f",
    "tenant_id": "0193a5f0-0000-7000-8000-000000000001",
    "source_id": None,
    "type": "scan",
    "priority": "high",
    "payload": {"scanner": "semgrep", "target": "github.com/acme/api", "config": {}},
    "status": "acknowledged",
    "error_message": "",
    "progress": 0,
    "attempts": 1,
    "max_attempts": 3,
    "created_at": "2026-11-26T12:00:00Z",
    "expires_at": "2026-11-27T12:00:00Z",
    "lease_expires_at": None,
    "acknowledged_at": "2026-11-26T12:00:03Z",
    "started_at": None,
    "completed_at": None,
    "result": None,
}


class IsAgent(BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        if not isinstance(request.user, Agent):
            return False
        require_module(request.user.tenant, getattr(view, "required_module", None))
        return True


class AgentRateThrottle(SimpleRateThrottle):
    """Per-agent request rate (AGENT_RATE_LIMIT, e.g. "100/s")."""

    scope = "agent"

    def get_rate(self) -> str:
        return settings.AGENT_RATE_LIMIT

    def get_cache_key(self, request: Request, view) -> str | None:
        if isinstance(request.user, Agent):
            return f"throttle_agent_{request.user.pk}"
        return None


class AgentApiView(APIView):
    authentication_classes = [AgentKeyAuthentication]
    permission_classes = [IsAgent]
    throttle_classes = [AgentRateThrottle]
    # Every agent call may come gzip- or zstd-encoded, as the reference SDK sends it, and
    # is read under INGEST_MAX_BYTES rather than Django's 2.5 MB (ingest/body.py).
    parser_classes = [EncodedJSONParser]
    required_module: str | None = "scans"
    schema = ApiAutoSchema()
    # Every authenticated call is a sign of life (agents/auth.py agent_seen); the
    # heartbeat records it itself, with the health the agent reports, in its one UPDATE.
    records_sighting = True

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        if self.records_sighting and isinstance(request.user, Agent):
            agent_seen(agent=request.user)

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        refuse_null_characters(request.query_params)


REPORTED_STATUSES = ["running", "stopped", "stopping", "error"]
MAX_INT = 2**31 - 1  # PostgreSQL's integer


class AgentHeartbeatApi(AgentApiView):
    required_module = None  # an agent of a tenant without scans may still report in
    records_sighting = False  # agent_heartbeat writes last_seen_at and health itself

    @extend_schema_serializer(component_name="HeartbeatRequest")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(required=False, allow_blank=True, max_length=200)
        status = serializers.ChoiceField(choices=REPORTED_STATUSES, required=False)
        version = serializers.CharField(required=False, allow_blank=True, max_length=64)
        hostname = serializers.CharField(required=False, allow_blank=True, max_length=255)
        message = serializers.CharField(required=False, allow_blank=True, max_length=2000)
        region = serializers.CharField(required=False, allow_blank=True, max_length=64)
        scanners = serializers.ListField(
            child=serializers.CharField(max_length=64), required=False, max_length=200
        )
        collectors = serializers.ListField(
            child=serializers.CharField(max_length=64), required=False, max_length=200
        )
        tools = serializers.ListField(
            child=serializers.CharField(max_length=64), required=False, max_length=200
        )
        capabilities = serializers.ListField(
            child=serializers.CharField(max_length=64), required=False, max_length=100
        )
        # Bounded: a number past the database's integer column is a 400, not a 500.
        uptime_seconds = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INT)
        total_scans = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INT)
        # DRF's metaclass takes declared fields off the class: this `errors` is the
        # heartbeat's field, and `Serializer.errors` stays what it is.
        errors = serializers.IntegerField(  # type: ignore[assignment]
            required=False, min_value=0, max_value=MAX_INT
        )
        cpu_percent = serializers.FloatField(required=False, min_value=0, max_value=100)
        memory_percent = serializers.FloatField(required=False, min_value=0, max_value=100)
        active_jobs = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INT)

    @extend_schema_serializer(component_name="HeartbeatReply")
    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField()
        agent_id = serializers.UUIDField()
        tenant_id = serializers.UUIDField()

    @extend_schema(
        operation_id="agent_heartbeat",
        tags=["agent protocol"],
        summary="Report that the agent is alive, with its metrics and tools",
        request=InputSerializer,
        responses={200: OutputSerializer, 400: OpenApiResponse(description="Bad field"), **ERRORS},
        examples=[
            OpenApiExample(
                "Heartbeat",
                request_only=True,
                value={
                    "status": "running",
                    "version": "1.4.0",
                    "hostname": "build-7",
                    "scanners": ["bandit", "semgrep"],
                    "cpu_percent": 12.5,
                    "memory_percent": 41.0,
                    "active_jobs": 1,
                },
            ),
            OpenApiExample(
                "Reply",
                response_only=True,
                value={
                    "status": "ok",
                    "agent_id": "0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f",
                    "tenant_id": "0193a5f0-0000-7000-8000-000000000001",
                },
            ),
        ],
    )
    def post(self, request: AgentRequest) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        report = self.InputSerializer(data=data)
        report.is_valid(raise_exception=True)
        agent = agent_heartbeat(agent=request.user, report=report.validated_data)
        return Response({"status": "ok", "agent_id": agent.pk, "tenant_id": agent.tenant_id})


class AgentCommandsPollApi(AgentApiView):
    @extend_schema_serializer(component_name="CommandsPollQuery")
    class QuerySerializer(serializers.Serializer):
        limit = serializers.IntegerField(required=False, min_value=1, default=10)

    @extend_schema(
        operation_id="agent_commands_poll",
        tags=["agent protocol"],
        summary="Lease the most urgent commands this agent qualifies for",
        description=(
            "Returns a bare JSON array, most urgent first. Each returned command is leased "
            "to the caller, which must acknowledge it within the ack timeout or it returns "
            "to the queue. Work commands are capped by the agent's free job slots; control "
            "commands (cancel, health_check, config_update) are not. Delivery is "
            "at-least-once: make command handling idempotent."
        ),
        parameters=[OpenApiParameter("limit", int, description="At most this many (default 10).")],
        responses={
            200: CommandSerializer(many=True),
            400: OpenApiResponse(description="Bad limit"),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "One scan command",
                response_only=True,
                value={
                    "id": "0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f",
                    "tenant_id": "0193a5f0-0000-7000-8000-000000000001",
                    "source_id": None,
                    "type": "scan",
                    "priority": "high",
                    "payload": {
                        "scanner": "semgrep",
                        "target": "github.com/acme/api",
                        "config": {},
                        "timeout_seconds": 1800,
                    },
                    "status": "pending",
                    "error_message": "",
                    "progress": 0,
                    "attempts": 1,
                    "max_attempts": 3,
                    "created_at": "2026-11-26T12:00:00Z",
                    "expires_at": "2026-11-27T12:00:00Z",
                    "lease_expires_at": "2026-11-26T12:02:00Z",
                    "acknowledged_at": None,
                    "started_at": None,
                    "completed_at": None,
                    "result": None,
                },
            )
        ],
    )
    def get(self, request: AgentRequest) -> Response:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = min(query.validated_data["limit"], settings.AGENT_POLL_MAX_LIMIT)
        commands = queue.lease_commands(agent=request.user, limit=limit)
        return Response([command_wire(c) for c in commands])


def _lifecycle(request: Request, move: Callable[..., Command], command_id: str, **kwargs):
    try:
        with transaction.atomic():
            command = move(agent=request.user, command_id=command_id, **kwargs)
            # The scan session this command carries follows it (running, progress,
            # completed or failed, and the workflow's next stage).
            session_follow_command(command=command)
    except queue.QueueError as exc:
        raise ApiError(QUEUE_ERROR_STATUS[type(exc)], exc.code, str(exc)) from exc
    return Response(command_wire(command))


def _lifecycle_schema(operation: str, summary: str, request=None, example=None):
    return extend_schema(
        operation_id=f"agent_command_{operation}",
        tags=["agent protocol"],
        summary=summary,
        request=request,
        responses={
            200: CommandSerializer,
            400: OpenApiResponse(description="Bad field"),
            **LIFECYCLE_ERRORS,
        },
        examples=[
            *([OpenApiExample(summary, request_only=True, value=example)] if example else []),
            OpenApiExample("The command after the call", response_only=True, value=COMMAND_EXAMPLE),
        ],
    )


class AgentCommandAcknowledgeApi(AgentApiView):
    @_lifecycle_schema("acknowledge", "Acknowledge a leased command (also /ack)")
    def post(self, request: AgentRequest, command_id: str) -> Response:
        return _lifecycle(request, queue.command_acknowledge, command_id)


class AgentCommandAckApi(AgentApiView):
    @_lifecycle_schema("ack", "Acknowledge a leased command (alias of /acknowledge)")
    def post(self, request: AgentRequest, command_id: str) -> Response:
        return _lifecycle(request, queue.command_acknowledge, command_id)


class AgentCommandStartApi(AgentApiView):
    @_lifecycle_schema("start", "Mark a command as running")
    def post(self, request: AgentRequest, command_id: str) -> Response:
        return _lifecycle(request, queue.command_start, command_id)


class AgentCommandProgressApi(AgentApiView):
    @extend_schema_serializer(component_name="CommandProgressRequest")
    class InputSerializer(serializers.Serializer):
        percent = serializers.IntegerField(min_value=0, max_value=100, required=False)
        progress = serializers.IntegerField(min_value=0, max_value=100, required=False)
        message = serializers.CharField(required=False, allow_blank=True, max_length=500)

        def validate(self, attrs):
            if "percent" not in attrs and "progress" not in attrs:
                raise serializers.ValidationError({"percent": "This field is required."})
            return attrs

    @_lifecycle_schema(
        "progress",
        "Report progress of a running command",
        InputSerializer,
        {"percent": 40, "message": "scanned 120 of 300 files"},
    )
    def post(self, request: AgentRequest, command_id: str) -> Response:
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
    @extend_schema_serializer(component_name="CommandCompleteRequest")
    class InputSerializer(serializers.Serializer):
        result = serializers.DictField(
            required=False, default=dict, validators=[no_null_characters]
        )

    @_lifecycle_schema(
        "complete",
        "Complete a command with its result",
        InputSerializer,
        {
            "result": {
                "status": "completed",
                "duration_ms": 5230,
                "exit_code": 0,
                "findings_count": 12,
            }
        },
    )
    def post(self, request: AgentRequest, command_id: str) -> Response:
        body = self.InputSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        return _lifecycle(
            request, queue.command_complete, command_id, result=body.validated_data["result"]
        )


class AgentCommandFailApi(AgentApiView):
    @extend_schema_serializer(component_name="CommandFailRequest")
    class InputSerializer(serializers.Serializer):
        error_message = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
        error = serializers.CharField(required=False, allow_blank=True, max_length=10_000)

    @_lifecycle_schema(
        "fail",
        "Report that a command failed (it is retried with backoff, then dead)",
        InputSerializer,
        {"error_message": "semgrep exited with code 2: invalid rule file"},
    )
    def post(self, request: AgentRequest, command_id: str) -> Response:
        body = self.InputSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        message = body.validated_data.get("error_message") or body.validated_data.get("error", "")
        return _lifecycle(request, queue.command_fail, command_id, error_message=message)
