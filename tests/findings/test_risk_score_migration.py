"""Stored risk scores follow the banded formula from the migration on, not only after the
next ingest: the assets list sorts on the stored column."""

from __future__ import annotations

import importlib
from unittest import mock

from django.apps import apps
from django.test import TestCase

from findings.models import Asset
from findings.stats import risk_score
from tests.factories import AssetFactory, TenantFactory

migration = importlib.import_module("findings.migrations.0005_risk_score_bands")


class RecomputeStoredScores(TestCase):
    def test_existing_assets_are_rescored_so_a_hundred_lows_rank_below_a_critical(self):
        tenant = TenantFactory()
        # The scores the old formula stored: the lows ranked above the critical.
        lows = AssetFactory(tenant=tenant, low_count=100, criticality="high", risk_score=42.8)
        critical = AssetFactory(tenant=tenant, critical_count=1, risk_score=30.0)
        clean = AssetFactory(tenant=tenant, info_count=3, risk_score=0.0)
        with mock.patch.object(migration, "BATCH", 2):  # several keyset pages
            migration.recompute(apps, None)
        lows.refresh_from_db()
        critical.refresh_from_db()
        clean.refresh_from_db()
        self.assertEqual(lows.risk_score, risk_score({"low": 100}, "high"))
        self.assertEqual(critical.risk_score, risk_score({"critical": 1}, "medium"))
        self.assertEqual(clean.risk_score, 0.0)
        ranked = Asset.objects.for_tenant(tenant).order_by("-risk_score")
        self.assertEqual(list(ranked), [critical, lows, clean])
