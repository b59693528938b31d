"""How agents authenticate: an API key `rdv_…`, sent as `Authorization: Bearer <key>`
or `X-API-Key: <key>`. Only the key's SHA-256 digest and visible prefix are stored."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied

from agents.models import AgentKey, AgentStatus
from rediverio.secrets import (
    bearer_token,
    generate_secret,
    matching_secret,
    record_use,
    visible_prefix,
)

KEY_KIND = "rdv"


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


class AgentKeyScheme(OpenApiAuthenticationExtension):
    target_class = AgentKeyAuthentication
    name = "agentKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Agent API key `rdv_…`; `X-API-Key: <key>` is accepted too.",
        }
