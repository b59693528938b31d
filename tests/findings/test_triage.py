from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from findings.lifecycle import TRIAGE_TRANSITIONS, triage_refusal, triage_targets
from findings.models import Finding, FindingStatus
from findings.services import (
    TRIAGE_BULK_MAX,
    BulkTriageResult,
    finding_triage,
    findings_triage_bulk,
)
from findings.stats import assets_refresh_stats
from rediverio.models import AuditEvent
from tests.factories import NOW, AssetFactory, FindingFactory, TenantFactory, UserFactory

S = FindingStatus


class TransitionTable(TestCase):
    def test_it_lists_every_status(self):
        self.assertEqual(set(TRIAGE_TRANSITIONS), set(S.values))

    def test_the_documented_moves_are_allowed(self):
        allowed = {
            S.NEW: {S.CONFIRMED, S.IN_PROGRESS, S.FALSE_POSITIVE, S.ACCEPTED, S.DUPLICATE},
            S.CONFIRMED: {S.IN_PROGRESS, S.RESOLVED, S.FALSE_POSITIVE, S.ACCEPTED, S.DUPLICATE},
            S.IN_PROGRESS: {S.RESOLVED, S.CONFIRMED},
            S.RESOLVED: {S.CONFIRMED, S.NEW},
            S.FALSE_POSITIVE: {S.CONFIRMED},
            S.ACCEPTED: {S.CONFIRMED},
            S.DUPLICATE: {S.CONFIRMED},
        }
        allowed[S.NEW].add(S.RESOLVED)
        for current, targets in allowed.items():
            self.assertEqual(set(triage_targets(current)), targets, current)
            for target in S.values:
                refusal = triage_refusal(current, target)
                self.assertEqual(refusal is None, target in targets, (current, target, refusal))

    def test_a_refusal_says_why_and_what_is_allowed(self):
        self.assertEqual(
            triage_refusal("false_positive", "resolved"),
            "false positive → resolved is not allowed (from false positive: confirmed).",
        )
        self.assertEqual(triage_refusal("new", "new"), "it is already new.")
        self.assertIn("not a finding status", triage_refusal("new", "closed"))


class OneFinding(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.alice = UserFactory(username="alice")

    def finding(self, **kwargs) -> Finding:
        return FindingFactory(tenant=self.tenant, **kwargs)

    def test_it_changes_the_status_and_keeps_the_note_and_who_and_when(self):
        finding = self.finding(metadata={"scanner": "kept"})
        finding_triage(finding=finding, status="confirmed", note=" Real issue ", by=self.alice)
        finding_triage(finding=finding, status="false_positive", note="test code", by=self.alice)

        finding.refresh_from_db()
        self.assertEqual(finding.status, "false_positive")
        self.assertEqual(finding.metadata["scanner"], "kept")
        log = finding.metadata["triage"]
        self.assertEqual(
            [(e["by"], e["from"], e["to"], e["note"]) for e in log],
            [
                ("alice", "new", "confirmed", "Real issue"),
                ("alice", "confirmed", "false_positive", "test code"),
            ],
        )
        self.assertTrue(log[0]["at"].endswith("+00:00"))

    def test_resolving_sets_resolved_at_and_leaving_resolved_clears_it(self):
        finding = self.finding()
        finding_triage(finding=finding, status="resolved", note="", by=self.alice)
        finding.refresh_from_db()
        self.assertIsNotNone(finding.resolved_at)

        finding_triage(finding=finding, status="new", note="still there", by=self.alice)
        finding.refresh_from_db()
        self.assertEqual(finding.status, "new")
        self.assertIsNone(finding.resolved_at)

    def test_a_refused_transition_raises_a_clear_message_and_changes_nothing(self):
        finding = self.finding(status="false_positive")
        with self.assertRaisesMessage(
            ValidationError, "Cannot change the status: false positive → resolved is not allowed"
        ):
            finding_triage(finding=finding, status="resolved", note="", by=self.alice)
        finding.refresh_from_db()
        self.assertEqual(finding.status, "false_positive")
        self.assertNotIn("triage", finding.metadata)

    def test_it_decides_on_the_current_row_not_on_a_stale_copy(self):
        finding = self.finding()
        # An ingest (or another person) moved it meanwhile.
        Finding.objects.filter(pk=finding.pk).update(status="false_positive")
        with self.assertRaises(ValidationError):
            finding_triage(finding=finding, status="in_progress", note="", by=self.alice)

    def test_a_too_long_note_is_refused(self):
        with self.assertRaisesMessage(ValidationError, "Keep the note under"):
            finding_triage(
                finding=self.finding(), status="confirmed", note="x" * 2001, by=self.alice
            )

    def test_leaving_the_open_statuses_recounts_the_assets_findings(self):
        asset = AssetFactory(tenant=self.tenant)
        finding = self.finding(asset=asset, severity="critical")
        self.finding(asset=asset, severity="critical")
        assets_refresh_stats(assets=[asset])
        finding_triage(finding=finding, status="accepted", note="risk owner: bob", by=self.alice)
        asset.refresh_from_db()
        self.assertEqual(asset.critical_count, 1)

    def test_its_query_count_is_fixed(self):
        finding = self.finding()
        # savepoint, lock the asset, re-read the finding, update, audit record, release
        with self.assertNumQueries(6):
            finding_triage(finding=finding, status="confirmed", note="", by=self.alice)
        # … plus the asset's stats (one aggregate, one update) when it leaves "open"
        with self.assertNumQueries(8):
            finding_triage(finding=finding, status="duplicate", note="", by=self.alice)


class Bulk(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant, cls.other = TenantFactory(), TenantFactory()
        cls.alice = UserFactory(username="alice")

    def test_it_updates_the_valid_ones_and_reports_the_skipped(self):
        new = FindingFactory.create_batch(3, tenant=self.tenant)
        closed = FindingFactory(tenant=self.tenant, status="accepted", title="Weak hash")
        result = findings_triage_bulk(
            tenant=self.tenant,
            ids=[f.pk for f in [*new, closed]],
            status="false_positive",
            note="generated code",
            by=self.alice,
        )
        self.assertEqual(result.updated, [f.pk for f in new])
        self.assertEqual([pk for pk, _ in result.skipped], [closed.pk])
        self.assertEqual(
            result.summary(),
            "3 updated, 1 skipped: “Weak hash”: accepted → false positive is not allowed "
            "(from accepted: confirmed).",
        )
        for finding in Finding.objects.filter(pk__in=[f.pk for f in new]):
            self.assertEqual(finding.status, "false_positive")
            self.assertEqual(finding.metadata["triage"][-1]["note"], "generated code")
            self.assertEqual(finding.metadata["triage"][-1]["by"], "alice")
        closed.refresh_from_db()
        self.assertEqual(closed.status, "accepted")

    def test_other_tenants_ids_are_ignored(self):
        mine = FindingFactory(tenant=self.tenant)
        theirs = FindingFactory(tenant=self.other)
        result = findings_triage_bulk(
            tenant=self.tenant,
            ids=[mine.pk, theirs.pk, uuid.uuid4()],
            status="confirmed",
            note="",
            by=self.alice,
        )
        self.assertEqual((result.updated, result.skipped), ([mine.pk], []))
        theirs.refresh_from_db()
        self.assertEqual((theirs.status, theirs.metadata), ("new", {}))

    def test_resolved_at_follows_each_findings_own_status(self):
        resolved = FindingFactory(tenant=self.tenant, status="resolved", resolved_at=NOW)
        fresh = FindingFactory(tenant=self.tenant)
        findings_triage_bulk(
            tenant=self.tenant,
            ids=[resolved.pk, fresh.pk],
            status="confirmed",
            note="",
            by=self.alice,
        )
        resolved.refresh_from_db()
        fresh.refresh_from_db()
        self.assertEqual((resolved.status, resolved.resolved_at), ("confirmed", None))
        self.assertEqual((fresh.status, fresh.resolved_at), ("confirmed", None))

        findings_triage_bulk(
            tenant=self.tenant,
            ids=[resolved.pk, fresh.pk],
            status="resolved",
            note="",
            by=self.alice,
        )
        for finding in (resolved, fresh):
            finding.refresh_from_db()
            self.assertEqual(finding.status, "resolved")
            self.assertIsNotNone(finding.resolved_at)

    def test_it_recounts_the_assets_that_gained_or_lost_open_findings(self):
        asset = AssetFactory(tenant=self.tenant)
        findings = FindingFactory.create_batch(3, tenant=self.tenant, asset=asset, severity="high")
        assets_refresh_stats(assets=[asset])
        findings_triage_bulk(
            tenant=self.tenant,
            ids=[f.pk for f in findings[:2]],
            status="duplicate",
            note="",
            by=self.alice,
        )
        asset.refresh_from_db()
        self.assertEqual(asset.high_count, 1)

    def test_the_query_count_does_not_grow_with_the_selection(self):
        def triage(count: int) -> int:
            # One asset per finding: the worst case for the lock and the stats.
            ids = [f.pk for f in FindingFactory.create_batch(count, tenant=self.tenant)]
            with CaptureQueriesContext(connection) as queries:
                result = findings_triage_bulk(
                    tenant=self.tenant, ids=ids, status="false_positive", note="", by=self.alice
                )
            self.assertEqual(len(result.updated), count)
            return len(queries)

        def audit_inserts(count: int) -> int:
            # One on PostgreSQL; SQLite's 999-parameter cap splits a full selection in two.
            fields = list(AuditEvent._meta.concrete_fields)
            return -(-count // connection.ops.bulk_batch_size(fields, [None] * count))

        # savepoint, lock the assets, read the findings, one UPDATE, the audit INSERT(s),
        # the assets' stats (aggregate + update), release
        for count in (2, 50, TRIAGE_BULK_MAX):
            with self.subTest(count=count):
                self.assertEqual(triage(count), 7 + audit_inserts(count))
        if connection.vendor == "postgresql":
            self.assertEqual(audit_inserts(TRIAGE_BULK_MAX), 1)

    def test_an_empty_or_all_foreign_selection_changes_nothing(self):
        theirs = FindingFactory(tenant=self.other)
        result = findings_triage_bulk(
            tenant=self.tenant, ids=[theirs.pk], status="confirmed", note="", by=self.alice
        )
        self.assertEqual(result.summary(), "0 updated, 0 skipped.")
        self.assertEqual(
            findings_triage_bulk(
                tenant=self.tenant, ids=[], status="confirmed", note="", by=self.alice
            ),
            BulkTriageResult(),
        )

    def test_too_large_a_selection_or_an_unknown_status_is_refused(self):
        with self.assertRaisesMessage(ValidationError, "at most"):
            findings_triage_bulk(
                tenant=self.tenant,
                ids=[uuid.uuid4() for _ in range(TRIAGE_BULK_MAX + 1)],
                status="confirmed",
                note="",
                by=self.alice,
            )
        with self.assertRaisesMessage(ValidationError, "not a finding status"):
            findings_triage_bulk(
                tenant=self.tenant, ids=[uuid.uuid4()], status="closed", note="", by=self.alice
            )

    def test_many_skipped_findings_are_summarised(self):
        findings = FindingFactory.create_batch(5, tenant=self.tenant, status="duplicate")
        result = findings_triage_bulk(
            tenant=self.tenant,
            ids=[f.pk for f in findings],
            status="duplicate",
            note="",
            by=self.alice,
        )
        self.assertTrue(result.summary().startswith("0 updated, 5 skipped: “Use of eval”: it is"))
        self.assertTrue(result.summary().endswith("(and 2 more)"))


@pytest.mark.postgres
class AssetLock(TestCase):
    """Triage and ingest both write an asset's findings: both hold the asset's row lock."""

    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.alice = UserFactory()

    def assert_assets_locked(self, queries) -> str:
        locks = [
            q["sql"]
            for q in queries.captured_queries
            if q["sql"].startswith("SELECT")
            and 'FROM "assets"' in q["sql"]
            and q["sql"].rstrip().endswith("FOR UPDATE")
        ]
        self.assertEqual(len(locks), 1, queries.captured_queries)
        return locks[0]

    def test_one_finding_locks_its_asset_before_reading_the_finding(self):
        finding = FindingFactory(tenant=self.tenant)
        with CaptureQueriesContext(connection) as queries:
            finding_triage(finding=finding, status="confirmed", note="", by=self.alice)
        lock = self.assert_assets_locked(queries)
        sqls = [q["sql"] for q in queries.captured_queries]
        first_finding_read = next(i for i, s in enumerate(sqls) if 'FROM "findings"' in s)
        self.assertLess(sqls.index(lock), first_finding_read)

    def test_a_selection_locks_every_asset_involved_in_one_query(self):
        findings = FindingFactory.create_batch(4, tenant=self.tenant)
        with CaptureQueriesContext(connection) as queries:
            findings_triage_bulk(
                tenant=self.tenant,
                ids=[f.pk for f in findings],
                status="confirmed",
                note="",
                by=self.alice,
            )
        lock = self.assert_assets_locked(queries)
        self.assertIn('ORDER BY "assets"."id" ASC', lock)  # ingest's lock order
