"""The database enforces the domain's invariants, whatever code writes to it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import TestCase

from agents.models import Command
from findings.models import Finding
from scans.models import Scan, ScanSession
from tests.factories import (
    NOW,
    FindingFactory,
    ScanFactory,
    ScanProfileFactory,
    ScanSessionFactory,
    TenantFactory,
)


class Migrations(TestCase):
    def test_models_and_migrations_agree(self):
        out = StringIO()
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
        self.assertIn("No changes detected", out.getvalue())

    def test_system_checks_are_clean(self):
        call_command("check", "--fail-level", "WARNING")


class Constraints(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()

    def assert_refused(self, write):
        with self.assertRaises(IntegrityError), transaction.atomic():
            write()

    def test_status_columns_accept_only_known_states(self):
        finding = FindingFactory(tenant=self.tenant)
        scan = ScanFactory(tenant=self.tenant)
        session = ScanSessionFactory(tenant=self.tenant)
        cases = [
            lambda: Finding.objects.filter(pk=finding.pk).update(status="open-ish"),
            lambda: Finding.objects.filter(pk=finding.pk).update(severity="urgent"),
            lambda: Scan.objects.filter(pk=scan.pk).update(status="running"),
            lambda: Scan.objects.filter(pk=scan.pk).update(schedule_type="hourly"),
            lambda: ScanSession.objects.filter(pk=session.pk).update(status="done"),
            lambda: Command.objects.create(tenant=self.tenant, type="scan", status="lost"),
            lambda: Command.objects.create(tenant=self.tenant, type="scan", priority=99),
        ]
        for index, write in enumerate(cases):
            with self.subTest(case=index):
                self.assert_refused(write)

    def test_one_finding_per_tenant_asset_and_fingerprint(self):
        finding = FindingFactory(tenant=self.tenant)
        self.assert_refused(
            lambda: FindingFactory(
                tenant=self.tenant, asset=finding.asset, fingerprint=finding.fingerprint
            )
        )
        FindingFactory(tenant=self.tenant, fingerprint=finding.fingerprint)  # other asset: fine

    def test_a_resolved_finding_has_a_resolution_time(self):
        finding = FindingFactory(tenant=self.tenant)
        self.assert_refused(lambda: Finding.objects.filter(pk=finding.pk).update(status="resolved"))
        Finding.objects.filter(pk=finding.pk).update(status="resolved", resolved_at=NOW)

    def test_a_tenant_has_at_most_one_default_profile(self):
        ScanProfileFactory(tenant=self.tenant, is_default=True)
        self.assert_refused(lambda: ScanProfileFactory(tenant=self.tenant, is_default=True))
        ScanProfileFactory(is_default=True)  # another tenant's default

    def test_one_session_per_scanner_target_and_schedule_slot(self):
        session = ScanSessionFactory(tenant=self.tenant, scheduled_for=NOW)
        self.assert_refused(
            lambda: ScanSessionFactory(tenant=self.tenant, scan=session.scan, scheduled_for=NOW)
        )
        # Manual runs have no slot and may repeat.
        ScanSessionFactory(tenant=self.tenant, scan=session.scan)
        ScanSessionFactory(tenant=self.tenant, scan=session.scan)


@pytest.mark.postgres
class PostgresIndexes(TestCase):
    def index_definition(self, name: str) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
            row = cursor.fetchone()
        assert row, f"index {name} is missing"
        return row[0]

    def test_the_command_queue_index_covers_only_pending_work_by_urgency_then_age(self):
        definition = self.index_definition("commands_pending_queue")
        self.assertIn("(tenant_id, priority DESC, created_at)", definition)
        self.assertIn("WHERE ((status)::text = 'pending'::text)", definition)

    def test_the_due_scan_index_covers_only_active_scheduled_scans(self):
        definition = self.index_definition("scans_due")
        self.assertIn("(next_run_at)", definition)
        self.assertIn("'active'", definition)

    def test_the_queue_lookup_uses_the_partial_index(self):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(
                "EXPLAIN SELECT id FROM commands WHERE tenant_id = %s AND status = 'pending' "
                "ORDER BY priority DESC, created_at LIMIT 10",
                [TenantFactory().pk],
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
        self.assertIn("commands_pending_queue", plan)
