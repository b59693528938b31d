"""Reads on scans and sessions, always scoped to one tenant."""

from __future__ import annotations

from django.db.models import Count

from rediverio.models import Tenant
from scans.models import Scan, ScanStatus


def scans_by_status(*, tenant: Tenant) -> dict[str, int]:
    counts = dict(Scan.objects.for_tenant(tenant).values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in ScanStatus.values}
