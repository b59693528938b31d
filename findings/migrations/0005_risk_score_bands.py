"""Recompute every asset's stored risk score with the banded formula (findings/stats.py).

The old formula let a hundred lows outrank a critical; the assets list sorts on the
stored column, so existing rows are recomputed now rather than at their next ingest
(an asset nobody scans again would keep its old, wrong rank). The score is a function
of the asset's stored open-finding counts and criticality, so no finding is read.
"""

from __future__ import annotations

from django.db import migrations

from findings.stats import SEVERITIES, risk_score

BATCH = 2000


def recompute(apps, schema_editor):
    Asset = apps.get_model("findings", "Asset")
    fields = ["criticality", "risk_score", *(f"{s}_count" for s in SEVERITIES)]
    # Keyset batches, not one open cursor: SQLite gives no isolation between a cursor
    # and updates of the same table on one connection.
    last = None
    while True:
        page = Asset.objects.order_by("pk").only(*fields)
        if last is not None:
            page = page.filter(pk__gt=last)
        batch = list(page[:BATCH])
        if not batch:
            return
        last = batch[-1].pk
        changed = []
        for asset in batch:
            counts = {s: getattr(asset, f"{s}_count") for s in SEVERITIES}
            score = risk_score(counts, asset.criticality)
            if score != asset.risk_score:
                asset.risk_score = score
                changed.append(asset)
        Asset.objects.bulk_update(changed, ["risk_score"])


class Migration(migrations.Migration):
    dependencies = [("findings", "0004_finding_sightings")]

    # Going back leaves the new scores: the old code recomputes an asset's score at its
    # next ingest, and until then a banded score is a valid 0–100 value for it.
    operations = [migrations.RunPython(recompute, migrations.RunPython.noop, elidable=True)]
