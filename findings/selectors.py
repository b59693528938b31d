"""Reads on findings and assets, always scoped to one tenant."""

from __future__ import annotations

from django.db.models import Count

from findings.models import Asset, Finding, Severity
from rediverio.models import Tenant


def open_findings_by_severity(*, tenant: Tenant) -> dict[str, int]:
    """Open findings per severity, every severity present (zero when none): one query."""
    counts = dict(
        Finding.objects.for_tenant(tenant)
        .open()
        .values_list("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    return {severity: counts.get(severity, 0) for severity in Severity.values}


def asset_count(*, tenant: Tenant) -> int:
    return Asset.objects.for_tenant(tenant).count()
