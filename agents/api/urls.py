from __future__ import annotations

from django.urls import path

from agents.api import management, protocol

lifecycle = {
    "acknowledge": protocol.AgentCommandAcknowledgeApi,
    "ack": protocol.AgentCommandAckApi,
    "start": protocol.AgentCommandStartApi,
    "progress": protocol.AgentCommandProgressApi,
    "complete": protocol.AgentCommandCompleteApi,
    "fail": protocol.AgentCommandFailApi,
}

urlpatterns = [
    path("agent/heartbeat", protocol.AgentHeartbeatApi.as_view(), name="agent-heartbeat"),
    path("agent/commands", protocol.AgentCommandsPollApi.as_view(), name="agent-commands"),
    *[
        path(
            f"agent/commands/<str:command_id>/{action}",
            view.as_view(),
            name=f"agent-command-{action}",
        )
        for action, view in lifecycle.items()
    ],
    path("agents", management.AgentListCreateApi.as_view(), name="agents"),
    path("agents/<str:agent_id>", management.AgentDetailApi.as_view(), name="agent-detail"),
    path("agents/<str:agent_id>/keys", management.AgentKeysApi.as_view(), name="agent-keys"),
    path(
        "agents/<str:agent_id>/keys/<str:key_id>",
        management.AgentKeyRevokeApi.as_view(),
        name="agent-key-revoke",
    ),
]
