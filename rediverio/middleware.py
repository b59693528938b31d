"""The current tenant of a signed-in user, for pages and session-authenticated APIs."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from rediverio.models import Membership

SESSION_TENANT_KEY = "tenant_id"


def _membership_for(request: HttpRequest) -> Membership | None:
    user = request.user
    if not user.is_authenticated:
        return None
    memberships = Membership.objects.select_related("tenant").filter(
        user=user, tenant__is_active=True
    )
    chosen = request.session.get(SESSION_TENANT_KEY)
    if chosen:
        membership = memberships.filter(tenant_id=chosen).first()
        if membership is not None:
            return membership
    return memberships.first()


class CurrentTenantMiddleware:
    """Sets `request.membership` and `request.tenant` (None when the user has no team)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # One query, and only for signed-in users: agents authenticate later, in DRF.
        membership = _membership_for(request)
        request.membership = membership
        request.tenant = membership.tenant if membership else None
        return self.get_response(request)


def current_tenant(request: HttpRequest) -> dict:
    return {"current_tenant": getattr(request, "tenant", None)}
