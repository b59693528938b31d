"""Authentication and tenant scoping for the management API (users, not agents).

Users call it from the dashboard (session cookie, CSRF-checked) or from scripts with a
personal API token (`Authorization: Bearer rdu_…`), which is bound to one tenant. Either
way the view runs with `request.tenant` and `request.membership` set, or not at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from rediverio.api_errors import ApiAutoSchema, ApiError, refuse_null_characters
from rediverio.models import ApiToken, Membership, Role
from rediverio.secrets import (
    bearer_token,
    generate_secret,
    matching_secret,
    record_use,
    visible_prefix,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from rediverio.models import Tenant

TOKEN_KIND = "rdu"


class TenantRequest(Request):
    """The request a `TenantApiView` handler sees: `IsTenantMember` let a user in and set
    the tenant and membership."""

    user: User
    tenant: Tenant
    membership: Membership


def generate_api_token() -> str:
    return generate_secret(TOKEN_KIND)


class UserTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        token = bearer_token(request)
        if not token or not token.startswith(f"{TOKEN_KIND}_"):
            return None
        candidates = ApiToken.objects.select_related("user", "tenant").filter(
            prefix=visible_prefix(token)
        )
        stored = matching_secret(candidates, token)
        if stored is None or stored.revoked_at is not None or not stored.user.is_active:
            raise ApiError(401, "UNAUTHORIZED", "Invalid or revoked API token.")
        record_use(stored, timezone.now())
        return stored.user, stored

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class UserTokenScheme(OpenApiAuthenticationExtension):
    target_class = UserTokenAuthentication
    name = "userToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A user's API token `rdu_…`, bound to one tenant.",
        }


def _membership(request) -> Membership | None:
    if isinstance(request.auth, ApiToken):
        return (
            Membership.objects.select_related("tenant")
            .filter(user=request.user, tenant=request.auth.tenant, tenant__is_active=True)
            .first()
        )
    return getattr(request._request, "membership", None)


class IsTenantMember(BasePermission):
    """The caller belongs to a tenant, with the role the view asks for: `read_role` for
    safe methods (default viewer), `write_role` otherwise (default admin); and the
    tenant's plan includes the view's `required_module`."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        membership = _membership(request)
        if membership is None:
            raise ApiError(403, "NO_TENANT", "You are not a member of any active team.")
        request.membership = membership
        request.tenant = membership.tenant
        needed = (
            getattr(view, "read_role", Role.VIEWER)
            if request.method in SAFE_METHODS
            else getattr(view, "write_role", Role.ADMIN)
        )
        if not membership.has_role(needed):
            raise ApiError(
                403, "FORBIDDEN", f"This needs the {needed} role; you are {membership.role}."
            )
        require_module(membership.tenant, getattr(view, "required_module", None))
        return True


def require_module(tenant, module: str | None) -> None:
    if module and not tenant.has_module(module):
        raise ApiError(
            403,
            "MODULE_DISABLED",
            f"The {module} module is not part of the {tenant.plan} plan of {tenant.name}.",
        )


class TenantApiView(APIView):
    """Base of every user-facing API view: session or token, scoped to one tenant."""

    # The token first: its `WWW-Authenticate` makes a missing credential a 401, not a 403.
    authentication_classes = [UserTokenAuthentication, SessionAuthentication]
    permission_classes = [IsTenantMember]
    required_module: str | None = None
    schema = ApiAutoSchema()

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        refuse_null_characters(request.query_params)


class Pages(LimitOffsetPagination):
    """Limit/offset pages for the management API's lists (small per team: agents,
    scans, profiles); the findings list, which can hold millions, pages by keyset."""

    default_limit = 50
    max_limit = 500
