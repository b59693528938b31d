"""Tenant scoping: every tenant-owned row is read through `for_tenant`.

`TenantOwned` gives a model its non-null `tenant` and a queryset whose `for_tenant`
is the one way views, services and the admin narrow rows to a team. Nothing in the
code reads tenant data with a bare `.objects.all()`. `get_for_tenant_or_404` is the one
way a view (page or API) fetches the row its path names: the id arrives as a UUID (every
id in a URL pattern uses the `uuid` converter), so a malformed id never reaches it.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Self, TypeVar

from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from rediverio.models import Tenant

Row = TypeVar("Row", bound=models.Model)


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant | uuid.UUID) -> Self:  # or its id, where that is at hand
        if tenant is None:
            # A missing tenant must never widen a query to every tenant.
            raise ValueError("for_tenant() needs a tenant")
        return self.filter(tenant=tenant)

    def for_user(self, user: User | AnonymousUser) -> Self:
        """Rows of every tenant the user is a member of (the operator admin's view)."""
        if not user.is_authenticated:
            return self.none()
        from rediverio.models import Membership

        return self.filter(tenant__in=Membership.objects.filter(user=user).values("tenant"))


class TenantOwned(models.Model):
    tenant = models.ForeignKey("rediverio.Tenant", on_delete=models.CASCADE, related_name="+")

    # A subclass with a queryset of its own declares `objects: ClassVar[models.Manager[M]]
    # = MQuerySet.as_manager()`: mypy needs the ClassVar to accept the override, and the
    # django-stubs plugin still types it as the manager of that queryset.
    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


def get_for_tenant_or_404(
    rows: models.QuerySet[Row], tenant: Tenant, pk: uuid.UUID, **filters
) -> Row:
    """The row `pk` names among the team's `rows` (a queryset, so the caller picks its
    joins), or a 404: another team's id answers exactly as an id that never existed.
    DRF answers the Http404 as the API's NOT_FOUND error."""
    if tenant is None:  # as in for_tenant: never every team's rows
        raise ValueError("get_for_tenant_or_404() needs a tenant")
    row = rows.filter(tenant=tenant, pk=pk, **filters).first()
    if row is None:
        raise Http404(f"No such {rows.model._meta.verbose_name}.")
    return row
