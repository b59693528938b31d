"""The OpenAPI documentation of the agent protocol and the agent management API.

One `extend_schema` per operation, named after its operation id, with its examples
and error replies; the views in protocol.py and management.py wear them as a single
decorator line each. It is kept apart so that a reader of the views sees behaviour.
Grouped by view, in the order of the views.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from agents.api.serializers import (
    AgentCreatedSerializer,
    AgentKeyIssuedSerializer,
    AgentKeyRotateRequestSerializer,
    AgentKeySerializer,
    AgentPageSerializer,
    AgentSerializer,
    CommandCompleteRequestSerializer,
    CommandFailRequestSerializer,
    CommandProgressRequestSerializer,
    CommandSerializer,
    HeartbeatReplySerializer,
    HeartbeatRequestSerializer,
)
from rediverio.api_errors import error_reply

# The agent protocol (protocol.py)

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


# AgentHeartbeatApi

agent_heartbeat = extend_schema(
    operation_id="agent_heartbeat",
    tags=["agent protocol"],
    summary="Report that the agent is alive, with its metrics and tools",
    request=HeartbeatRequestSerializer,
    responses={
        200: HeartbeatReplySerializer,
        400: OpenApiResponse(description="Bad field"),
        **ERRORS,
    },
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


# AgentCommandsPollApi

agent_commands_poll = extend_schema(
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


# AgentCommandAcknowledgeApi, AgentCommandAckApi, AgentCommandStartApi

agent_command_acknowledge = _lifecycle_schema(
    "acknowledge", "Acknowledge a leased command (also /ack)"
)
agent_command_ack = _lifecycle_schema("ack", "Acknowledge a leased command (alias of /acknowledge)")
agent_command_start = _lifecycle_schema("start", "Mark a command as running")


# AgentCommandProgressApi

agent_command_progress = _lifecycle_schema(
    "progress",
    "Report progress of a running command",
    CommandProgressRequestSerializer,
    {"percent": 40, "message": "scanned 120 of 300 files"},
)


# AgentCommandCompleteApi

agent_command_complete = _lifecycle_schema(
    "complete",
    "Complete a command with its result",
    CommandCompleteRequestSerializer,
    {
        "result": {
            "status": "completed",
            "duration_ms": 5230,
            "exit_code": 0,
            "findings_count": 12,
        }
    },
)


# AgentCommandFailApi

agent_command_fail = _lifecycle_schema(
    "fail",
    "Report that a command failed (it is retried with backoff, then dead)",
    CommandFailRequestSerializer,
    {"error_message": "semgrep exited with code 2: invalid rule file"},
)


# Agent management (management.py)

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


# AgentListCreateApi

agents_list = extend_schema(
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

agents_create = extend_schema(
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


# AgentDetailApi

agents_retrieve = extend_schema(
    operation_id="agents_retrieve",
    tags=["agents"],
    summary="An agent, with its health and metrics",
    responses=AgentSerializer,
    examples=[OpenApiExample("Agent", response_only=True, value=AGENT_EXAMPLE)],
)

agents_update = extend_schema(
    operation_id="agents_update",
    tags=["agents"],
    summary="Replace an agent's settings; disabling or revoking it takes back its work",
    request=AgentSerializer,
    responses=AgentSerializer,
)

agents_partial_update = extend_schema(
    operation_id="agents_partial_update",
    tags=["agents"],
    summary="Change some of an agent's settings (e.g. disable it)",
    request=AgentSerializer,
    responses=AgentSerializer,
    examples=[OpenApiExample("Disable", request_only=True, value={"status": "disabled"})],
)

agents_destroy = extend_schema(
    operation_id="agents_destroy",
    tags=["agents"],
    summary="Delete an agent; its work returns to the queue",
    responses={204: None},
)


# AgentKeysApi

agents_keys_list = extend_schema(
    operation_id="agents_keys_list",
    tags=["agents"],
    summary="An agent's keys (prefixes only; secrets are never shown again)",
    responses=AgentKeySerializer(many=True),
)

agents_keys_rotate = extend_schema(
    operation_id="agents_keys_rotate",
    tags=["agents"],
    summary="Issue a new key (at most two active); optionally revoke the others",
    request=AgentKeyRotateRequestSerializer,
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


# AgentKeyRevokeApi

agents_keys_revoke = extend_schema(
    operation_id="agents_keys_revoke",
    tags=["agents"],
    summary="Revoke a key",
    responses={200: AgentKeySerializer},
)
