"""What an ingest locks, and what it must not hold up (PostgreSQL's row locks).

An ingest locks its assets so that writers of an asset's findings queue behind each
other. Rows that only reference the asset — a run starting on it inserts sessions and
commands, whose foreign-key checks take KEY SHARE locks at commit — must not wait for
the ingest: that wait closed a deadlock cycle (run start ⇄ ingest ⇄ completion) that the
soak (tests/ops/soak.py) hit. Threads with their own connections see only committed
rows: hence a TransactionTestCase.
"""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, transaction
from django.test import TransactionTestCase

from findings.services import asset_get_or_create
from ingest.pipeline import _lock_assets
from scans.services import scan_create, scan_trigger
from tests.factories import TenantFactory

LOCK_TIMEOUT = "3s"  # a wait this long means "blocked": fail instead of hanging


@pytest.mark.postgres
class IngestAssetLocks(TransactionTestCase):
    def setUp(self):
        self.tenant = TenantFactory()
        self.asset, _ = asset_get_or_create(tenant=self.tenant, identifier="github.com/acme/shop")
        self.scan = scan_create(
            tenant=self.tenant, name="nightly", scanner_name="semgrep", targets=[self.asset]
        )

    def ingest_holding_the_asset(self, body) -> None:
        """Run `body()` while another connection holds the asset as an ingest does."""
        locked, release = threading.Event(), threading.Event()

        def ingest() -> None:
            try:
                with transaction.atomic():
                    _lock_assets(self.tenant, {(self.asset.type, self.asset.identifier)})
                    locked.set()
                    release.wait(30)
            finally:
                connection.close()

        holder = threading.Thread(target=ingest)
        holder.start()
        try:
            self.assertTrue(locked.wait(30))
            body()
        finally:
            release.set()
            holder.join(30)

    def test_a_run_starts_on_an_asset_while_an_ingest_holds_it(self):
        def start_a_run() -> None:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                run = scan_trigger(scan=self.scan)
            self.assertEqual(len(run.sessions), 1)

        self.ingest_holding_the_asset(start_a_run)

    def test_two_ingests_of_one_asset_still_queue_behind_each_other(self):
        def second_ingest() -> None:
            with self.assertRaises(OperationalError), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '500ms'")
                _lock_assets(self.tenant, {(self.asset.type, self.asset.identifier)})

        self.ingest_holding_the_asset(second_ingest)
