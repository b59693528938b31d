"""Asset statistics: open findings by severity, and the asset's risk score.

Risk score (0–100): the chance, in a simple model, that at least one open finding is
exploited, scaled by how much the asset matters. Each open finding of severity s is
exploited with probability p(s) — critical 0.40, high 0.20, medium 0.05, low 0.01,
info 0 — independently, so

    risk = 100 × w(criticality) × (1 − Π (1 − p(s))^count(s))

with w = 1.0 for a critical asset, 0.9 high, 0.75 medium, 0.5 low, 0.25 info. It grows
fast with the first serious findings and saturates, so a hundred lows never outrank a
critical, and a critical asset outranks an unimportant one with the same findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count

from findings.models import Asset, Finding

EXPLOIT_PROBABILITY = {"critical": 0.40, "high": 0.20, "medium": 0.05, "low": 0.01, "info": 0.0}
CRITICALITY_WEIGHT = {"critical": 1.0, "high": 0.9, "medium": 0.75, "low": 0.5, "info": 0.25}
SEVERITIES = tuple(EXPLOIT_PROBABILITY)


def risk_score(counts: dict[str, int], criticality: str = "medium") -> float:
    survive = 1.0
    for severity, count in counts.items():
        survive *= (1.0 - EXPLOIT_PROBABILITY[severity]) ** count
    return round(100.0 * CRITICALITY_WEIGHT[criticality] * (1.0 - survive), 2)


def assets_refresh_stats(
    *, assets: Iterable[Asset], scanned_at: datetime | None = None
) -> list[Asset]:
    """Recount open findings per severity and the risk score of these assets: one
    aggregate query and one update, however many assets and findings."""
    assets = list(assets)
    if not assets:
        return assets
    counts: dict = {a.pk: dict.fromkeys(SEVERITIES, 0) for a in assets}
    tenant_ids = {a.tenant_id for a in assets}
    if len(tenant_ids) != 1:
        raise ValueError("assets of one tenant at a time")
    rows = (
        Finding.objects.for_tenant(tenant_ids.pop())
        .filter(asset__in=[a.pk for a in assets])
        .open()
        .values_list("asset_id", "severity")
        .annotate(n=Count("id"))
        .order_by()
    )
    for asset_id, severity, n in rows:
        counts[asset_id][severity] = n
    for asset in assets:
        by_severity = counts[asset.pk]
        for severity in SEVERITIES:
            setattr(asset, f"{severity}_count", by_severity[severity])
        asset.risk_score = risk_score(by_severity, asset.criticality)
        if scanned_at is not None:
            asset.last_scanned_at = scanned_at
    fields = [f"{s}_count" for s in SEVERITIES] + ["risk_score"]
    if scanned_at is not None:
        fields.append("last_scanned_at")
    Asset.objects.bulk_update(assets, fields, batch_size=len(assets))
    return assets
