"""The current tenant of a signed-in user, for pages and session-authenticated APIs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse

from rediverio.models import Membership

if TYPE_CHECKING:
    from rediverio.http import MiddlewareRequest

SESSION_TENANT_KEY = "tenant_id"


def _memberships(request: HttpRequest) -> list[Membership]:
    if not request.user.is_authenticated:
        return []
    return list(
        Membership.objects.select_related("tenant").filter(
            user=request.user, tenant__is_active=True
        )
    )


class CurrentTenantMiddleware:
    """Sets `request.memberships` (every active team of the user), `request.membership`
    and `request.tenant` (the chosen team, else the first; None when the user has none).
    One query, and only for signed-in users: agents authenticate later, in DRF."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: MiddlewareRequest) -> HttpResponse:
        memberships = _memberships(request)
        chosen = request.session.get(SESSION_TENANT_KEY) if memberships else None
        membership = next((m for m in memberships if str(m.tenant_id) == chosen), None)
        membership = membership or (memberships[0] if memberships else None)
        request.memberships = memberships
        request.membership = membership
        request.tenant = membership.tenant if membership else None
        return self.get_response(request)


def current_tenant(request: HttpRequest) -> dict:
    return {
        "current_tenant": getattr(request, "tenant", None),
        "memberships": getattr(request, "memberships", []),
    }
