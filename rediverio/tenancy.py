"""Tenant scoping: every tenant-owned row is read through `for_tenant`.

`TenantOwned` gives a model its non-null `tenant` and a queryset whose `for_tenant`
is the one way views, services and the admin narrow rows to a team. Nothing in the
code reads tenant data with a bare `.objects.all()`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Self

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from rediverio.models import Tenant


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
