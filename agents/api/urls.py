"""The agents API's addresses: the agent protocol (heartbeat, commands and their
lifecycle) and the agents' management; the project URLconf mounts them under /api/v1/."""

from __future__ import annotations

from django.urls import path

from agents.api import management, protocol

urlpatterns = [
    path("agent/heartbeat", protocol.AgentHeartbeatApi.as_view(), name="agent-heartbeat"),
    path("agent/commands", protocol.AgentCommandsPollApi.as_view(), name="agent-commands"),
    path(
        "agent/commands/<uuid:command_id>/acknowledge",
        protocol.AgentCommandAcknowledgeApi.as_view(),
        name="agent-command-acknowledge",
    ),
    path(
        "agent/commands/<uuid:command_id>/ack",
        protocol.AgentCommandAckApi.as_view(),
        name="agent-command-ack",
    ),
    path(
        "agent/commands/<uuid:command_id>/start",
        protocol.AgentCommandStartApi.as_view(),
        name="agent-command-start",
    ),
    path(
        "agent/commands/<uuid:command_id>/progress",
        protocol.AgentCommandProgressApi.as_view(),
        name="agent-command-progress",
    ),
    path(
        "agent/commands/<uuid:command_id>/complete",
        protocol.AgentCommandCompleteApi.as_view(),
        name="agent-command-complete",
    ),
    path(
        "agent/commands/<uuid:command_id>/fail",
        protocol.AgentCommandFailApi.as_view(),
        name="agent-command-fail",
    ),
    path("agents", management.AgentListCreateApi.as_view(), name="agents"),
    path("agents/<uuid:agent_id>", management.AgentDetailApi.as_view(), name="agent-detail"),
    path("agents/<uuid:agent_id>/keys", management.AgentKeysApi.as_view(), name="agent-keys"),
    path(
        "agents/<uuid:agent_id>/keys/<uuid:key_id>",
        management.AgentKeyRevokeApi.as_view(),
        name="agent-key-revoke",
    ),
]
