"""What every dashboard view shares: the typed request and the access decorators."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from rediverio.models import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails

    from rediverio.models import Membership, Tenant

View = Callable[..., HttpResponse]


class MiddlewareRequest(HttpRequest):
    """A request with what the middleware adds: the request id, htmx, and the user's
    teams with the current one (None for a user in no team, or signed out)."""

    request_id: str
    htmx: HtmxDetails
    tenant: Tenant | None
    membership: Membership | None
    memberships: list[Membership]


class AppRequest(MiddlewareRequest):
    """The request a view behind `team_required` sees: a signed-in user in a team. Views
    type their request with it, so the attributes the middleware adds are checked."""

    user: User
    tenant: Tenant
    membership: Membership


def team_required(view: View) -> View:
    """Signed in and in a team; users without one get the "no team" page."""

    @wraps(view)
    def wrapped(request: MiddlewareRequest, *args, **kwargs) -> HttpResponse:
        if request.tenant is None:
            return render(request, "no_tenant.html", status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def role_required(role: Role, what: str) -> Callable[[View], View]:
    """403 for members below `role` ("Viewers read; members act; admins manage")."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: AppRequest, *args, **kwargs) -> HttpResponse:
            if request.membership is None or not request.membership.has_role(role):
                raise PermissionDenied(f"{what} needs the {role} role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
