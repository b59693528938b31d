"""Asset statistics: open findings by severity, and the asset's risk score.

Risk score (0–100). The promise: **an asset's worst open finding decides its band, so
no number of lower findings ever outranks one finding of a higher severity** — a
hundred (or a million) lows never outrank a critical, whatever the two assets' own
importance. The bands do not overlap, even rounded to whole numbers as the pages show
them:

    no open finding, or only info   0
    worst is low                    1–25
    worst is medium                 26–50
    worst is high                   51–75
    worst is critical               76–100

Within its band an asset moves up with the chance, in a simple model, that at least
one of its open findings is exploited — each open finding of severity s independently
with probability p(s): critical 0.40, high 0.20, medium 0.05, low 0.01, info 0 —
scaled by how much the asset matters, w = 1.0 for a critical asset, 0.9 high, 0.75
medium, 0.5 low, 0.25 info:

    risk = floor(worst) + 24 × w(criticality) × (1 − Π (1 − p(s))^count(s))

So the score never decreases when a finding is added (of any severity) or when the
asset's criticality goes up, and between two assets with the same findings the more
important one scores higher. tests/properties/test_risk_score.py states all of this for
any counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count

from findings.models import Asset, Finding

EXPLOIT_PROBABILITY = {"critical": 0.40, "high": 0.20, "medium": 0.05, "low": 0.01, "info": 0.0}
CRITICALITY_WEIGHT = {"critical": 1.0, "high": 0.9, "medium": 0.75, "low": 0.5, "info": 0.25}
SEVERITIES = tuple(EXPLOIT_PROBABILITY)  # worst first
# The lowest score of each band. A band is BAND_SPAN wide and the next one starts two
# above its top, so even the whole numbers the pages show never tie across bands.
BAND_FLOOR = {"critical": 76.0, "high": 51.0, "medium": 26.0, "low": 1.0}
BAND_SPAN = 24.0


def risk_score(counts: dict[str, int], criticality: str = "medium") -> float:
    worst = next((s for s in SEVERITIES if s in BAND_FLOOR and counts.get(s, 0) > 0), None)
    if worst is None:
        return 0.0  # info findings carry no risk
    survive = 1.0
    for severity, count in counts.items():
        survive *= (1.0 - EXPLOIT_PROBABILITY[severity]) ** count
    exploited = 1.0 - survive  # in (0, 1]: at least one finding of the band is open
    return round(BAND_FLOOR[worst] + BAND_SPAN * CRITICALITY_WEIGHT[criticality] * exploited, 2)


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
