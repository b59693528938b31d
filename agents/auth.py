"""How agents authenticate: an API key `rdv_…`, sent as `Authorization: Bearer <key>`
or `X-API-Key: <key>`. Only the key's SHA-256 digest and visible prefix are stored.

`AgentApiView` is the base of every endpoint an agent calls (the protocol in
agents/api/protocol.py, reports in ingest/api/views.py), as `TenantApiView`
(rediverio/api_auth.py) is of those people call."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from agents.models import Agent, AgentHealth, AgentKey, AgentStatus
from agents.queue import SILENT_HEALTH, agent_sighting_record, sighting_is_due
from rediverio.api_auth import require_module
from rediverio.api_errors import ApiAutoSchema, refuse_null_characters
from rediverio.body import EncodedJSONParser
from rediverio.secrets import (
    bearer_token,
    generate_secret,
    matching_secret,
    record_use,
    visible_prefix,
)

KEY_KIND = "rdv"


class AgentRequest(Request):
    """The request an agent-facing view sees once `AgentKeyAuthentication` let it in."""

    # DRF's stubs know only Django users as `request.user`; here it is the Agent.
    user: Agent  # type: ignore[assignment]
    auth: AgentKey


def generate_agent_key() -> str:
    return generate_secret(KEY_KIND)


class AgentKeyAuthentication(BaseAuthentication):
    """Sets `request.user` to the Agent (whose tenant scopes everything after) and
    `request.auth` to its key. Refuses unknown, revoked or expired keys (401), and
    disabled or revoked agents and deactivated tenants (403)."""

    def authenticate(self, request):
        key = bearer_token(request) or request.META.get("HTTP_X_API_KEY", "").strip()
        if not key:
            if request.META.get("HTTP_AUTHORIZATION"):
                raise AuthenticationFailed("Use 'Authorization: Bearer <agent key>'.")
            return None
        candidates = AgentKey.objects.select_related("agent", "agent__tenant").filter(
            prefix=visible_prefix(key)
        )
        stored = matching_secret(candidates, key)
        now = timezone.now()
        if stored is None:
            raise AuthenticationFailed("Invalid API key.")
        if stored.revoked_at is not None or (stored.expires_at and stored.expires_at <= now):
            raise AuthenticationFailed("This API key was revoked or has expired.")
        agent = stored.agent
        if agent.status != AgentStatus.ACTIVE:
            raise PermissionDenied(f"This agent is {agent.status}.")
        if not agent.tenant.is_active:
            raise PermissionDenied("This agent's tenant is deactivated.")
        record_use(stored, now)
        return agent, stored

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return 'Bearer realm="agent"'


def agent_seen(*, agent: Agent, now: datetime | None = None) -> bool:
    """Note that the agent just made an authenticated call: it was seen now, and an agent
    unknown or offline for its silence is online. An agent that reported an error in its
    heartbeat stays in error (only a heartbeat says otherwise).

    An agent used only one-shot (`rediverio-agent run` in CI) never heartbeats, so its
    ingests are its only sign of life. `agent` is the row authentication just read, so
    deciding costs no query; the write is one UPDATE, skipped while the last sighting is
    under LIVENESS_WRITE_SECONDS old, so a polling agent does not write on every call.
    Returns whether it wrote.
    """
    now = now or timezone.now()
    if not sighting_is_due(agent.last_seen_at, agent.health, now=now):
        return False
    agent_sighting_record(agent_id=agent.pk, now=now)
    agent.last_seen_at = now
    if agent.health in SILENT_HEALTH:
        agent.health = AgentHealth.ONLINE
    return True


# ------------------------------------------------------------- the agent API's base view


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
    # is read under INGEST_MAX_BYTES rather than Django's 2.5 MB (rediverio/body.py).
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


class AgentKeyScheme(OpenApiAuthenticationExtension):
    target_class = AgentKeyAuthentication
    name = "agentKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Agent API key `rdv_…`; `X-API-Key: <key>` is accepted too.",
        }
