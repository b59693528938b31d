"""Ingest under the plan's `max_assets`: a report naming more new assets than the team
may still have stores the assets within the limit and everything of theirs, stores
nothing of the refused ones (findings, dependencies), and says what it refused in the
reply (`refused`, and a line in `errors`). Assets that exist are never refused, and the
assets of reports that name none (`scan:<tool>:<id>`) count like any other."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection, transaction
from django.test import TestCase, TransactionTestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from agents.services import agent_create
from findings.models import Asset, AssetDependency, Finding
from findings.rules.severity import Severity
from findings.services import AssetLimitReached, asset_get_or_create
from ingest.pipeline import IngestResult, ingest_report
from protocol.report import Report, ReportDependency, ReportFinding, ReportTarget
from rediverio.lib.ids import uuid7
from scans.models import ScanSession
from tests.agents.test_agent_auth import bearer
from tests.factories import AssetFactory, TenantFactory

WEB = "github.com/acme/web"


def repo(name: str) -> ReportTarget:
    return ReportTarget(identifier=f"github.com/acme/{name}", type="repository")


def report_on(*names: str, findings_each: int = 2, tool: str = "semgrep") -> Report:
    """A report naming `names` (none: a report that names no asset), with
    `findings_each` findings and one dependency per asset it names."""
    targets = [repo(name) for name in names]
    findings = [
        ReportFinding(
            rule_id=f"rule-{n}",
            title=f"Problem {n} in {target.identifier if target else 'the report'}",
            severity=Severity.HIGH,
            file_path=f"src/{n}.py",
            start_line=n + 1,
            target_index=index,
        )
        for index, target in enumerate(targets or [None])
        for n in range(findings_each)
    ]
    dependencies = [
        ReportDependency(name=f"lib-{index}", version="1.0", ecosystem="npm", target_index=index)
        for index in range(len(targets))
    ]
    return Report(tool_name=tool, targets=targets, findings=findings, dependencies=dependencies)


def identifiers(tenant) -> set[str]:
    return set(Asset.objects.for_tenant(tenant).values_list("identifier", flat=True))


class IngestBeyondTheLimit(TestCase):
    def setUp(self):
        self.tenant = TenantFactory(limits_override={"max_assets": 2})

    def ingest(self, report: Report, **kwargs) -> IngestResult:
        return ingest_report(tenant=self.tenant, report=report, **kwargs)

    def test_the_assets_within_the_limit_are_stored_the_others_refused_with_their_findings(
        self,
    ):
        result = self.ingest(report_on("shop", "api", "web"))
        self.assertEqual(identifiers(self.tenant), {"github.com/acme/shop", "github.com/acme/api"})
        self.assertEqual((result.assets_created, result.findings_created), (2, 4))
        self.assertEqual(
            result.counts()["refused"],
            {
                "assets": [
                    {
                        "identifier": "github.com/acme/web",
                        "type": "repository",
                        "reason": "max_assets",
                    }
                ],
                "findings": 2,
                "dependencies": 1,
            },
        )
        [line] = result.errors
        self.assertIn("1 new asset(s) refused (github.com/acme/web)", line)
        self.assertIn("allows 2 asset(s) (max_assets); 0 already exist", line)
        self.assertEqual(Finding.objects.for_tenant(self.tenant).count(), 4)
        self.assertEqual(
            sorted(
                AssetDependency.objects.for_tenant(self.tenant).values_list(
                    "asset__identifier", "component__name"
                )
            ),
            [("github.com/acme/api", "lib-1"), ("github.com/acme/shop", "lib-0")],
        )
        self.assertEqual(len(result.asset_ids), 2)

    def test_findings_after_a_refused_asset_land_on_their_own_asset(self):
        AssetFactory(tenant=self.tenant, identifier="github.com/acme/known")
        result = self.ingest(report_on("new-1", "new-2", "known"))
        self.assertEqual(
            [a["identifier"] for a in result.refused_assets], ["github.com/acme/new-2"]
        )
        stored = Finding.objects.for_tenant(self.tenant).values_list("asset__identifier", "title")
        self.assertEqual(
            sorted(stored),
            [
                ("github.com/acme/known", "Problem 0 in github.com/acme/known"),
                ("github.com/acme/known", "Problem 1 in github.com/acme/known"),
                ("github.com/acme/new-1", "Problem 0 in github.com/acme/new-1"),
                ("github.com/acme/new-1", "Problem 1 in github.com/acme/new-1"),
            ],
        )

    def test_an_asset_that_exists_is_never_refused(self):
        AssetFactory.create_batch(3, tenant=self.tenant)  # beyond the limit already
        AssetFactory(tenant=self.tenant, identifier="github.com/acme/shop")
        result = self.ingest(report_on("shop"))
        self.assertEqual((result.assets_updated, result.findings_created), (1, 2))
        self.assertEqual(
            result.counts()["refused"], {"assets": [], "findings": 0, "dependencies": 0}
        )
        self.assertEqual(result.errors, [])

    def test_a_report_whose_every_asset_is_refused_stores_nothing(self):
        AssetFactory.create_batch(2, tenant=self.tenant)
        before = identifiers(self.tenant)
        result = self.ingest(report_on("shop", "api"))
        self.assertEqual(identifiers(self.tenant), before)
        self.assertFalse(Finding.objects.for_tenant(self.tenant).exists())
        self.assertEqual(
            (result.refused_findings, result.refused_dependencies, result.asset_ids), (4, 2, [])
        )

    def test_the_asset_of_a_report_naming_none_counts(self):
        AssetFactory.create_batch(2, tenant=self.tenant)
        result = self.ingest(report_on(), ingest_id=uuid7())
        [refused] = result.refused_assets
        self.assertTrue(refused["identifier"].startswith("scan:semgrep:"))
        self.assertEqual((refused["type"], result.refused_findings), ("other", 2))
        self.assertFalse(Finding.objects.for_tenant(self.tenant).exists())

    def test_the_asset_the_caller_names_counts(self):
        AssetFactory.create_batch(2, tenant=self.tenant)
        result = self.ingest(report_on(), default_target=repo("named"))
        self.assertEqual(result.refused_assets[0]["identifier"], "github.com/acme/named")
        self.assertEqual(result.findings_created, 0)

    def test_two_spellings_of_one_new_asset_take_one_place(self):
        self.tenant.limits_override = {"max_assets": 1}
        self.tenant.save()
        rep = report_on("shop")
        rep.targets.append(ReportTarget(identifier="git@github.com:Acme/Shop.git"))
        rep.findings[1].target_index = 1
        result = self.ingest(rep)
        self.assertEqual((result.assets_created, result.refused_assets), (1, []))
        self.assertEqual(Finding.objects.for_tenant(self.tenant).count(), 2)

    def test_a_full_run_still_resolves_what_its_stored_assets_no_longer_have(self):
        first = self.ingest(report_on("shop"))
        self.assertEqual(first.findings_created, 2)
        AssetFactory(tenant=self.tenant)  # the team is now at its limit
        rep = report_on("shop", "web", findings_each=1)
        result = self.ingest(rep)
        self.assertEqual((result.findings_fixed, result.refused_findings), (1, 1))

    def test_unlimited_plans_refuse_nothing(self):
        for plan, override in (("enterprise", {}), ("free", {"max_assets": -1})):
            with self.subTest(plan=plan, override=override):
                self.tenant = TenantFactory(plan=plan, limits_override=override)
                AssetFactory.create_batch(60, tenant=self.tenant)
                result = self.ingest(report_on("shop", "api"))
                self.assertEqual((result.assets_created, result.refused_assets), (2, []))


class IngestApiSaysWhatItRefused(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(limits_override={"max_assets": 1})
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="worker")

    def post(self, *names: str):
        body = {
            "version": "1.0",
            "metadata": {"tool_name": "semgrep"},
            "targets": [
                {"type": "repository", "identifier": f"github.com/acme/{n}"} for n in names
            ],
            "findings": [
                {"rule_id": "r", "severity": "high", "message": "m", "target_index": i}
                for i in range(len(names))
            ],
        }
        return bearer(self.key).post(
            "/api/v1/agent/ingest", data=json.dumps(body), content_type="application/json"
        )

    def test_the_reply_lists_the_refused_assets_and_counts_their_findings(self):
        response = self.post("shop", "web")
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(
            body["refused"],
            {
                "assets": [
                    {
                        "identifier": "github.com/acme/web",
                        "type": "repository",
                        "reason": "max_assets",
                    }
                ],
                "findings": 1,
                "dependencies": 0,
            },
        )
        self.assertIn("max_assets", body["errors"][0])
        self.assertEqual((body["assets_created"], body["findings_created"]), (1, 1))

    def test_a_report_refused_whole_is_answered_and_recorded_without_an_asset(self):
        AssetFactory(tenant=self.tenant)
        response = self.post("web")
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["refused"]["findings"], 1)
        session = ScanSession.objects.for_tenant(self.tenant).get(pk=response.json()["scan_id"])
        self.assertEqual((session.asset, session.findings_total), (None, 0))
        self.assertFalse(Finding.objects.for_tenant(self.tenant).exists())


# ----------------------------------------------------------------- any sequence of writes

NAMES = [f"repo-{i}" for i in range(6)]
LIMITS = st.one_of(st.none(), st.just(-1), st.integers(min_value=0, max_value=6))
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("ingest"), st.lists(st.sampled_from(NAMES), max_size=4)),
        st.tuples(st.just("create"), st.sampled_from(NAMES)),
        st.tuples(st.just("limit"), LIMITS),
    ),
    min_size=1,
    max_size=8,
)


class AssetLimitHoldsWhateverTheSequence(HypothesisTestCase):
    """For any sequence of ingests (naming assets or none), asset creations and limit
    changes: the team never gains assets beyond its limit, what exists is never refused,
    and every asset that was not created is reported with every finding of it."""

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(limit=LIMITS, steps=STEPS)
    def test_the_limit_holds_and_every_refusal_is_reported(self, limit, steps):
        tenant = TenantFactory(limits_override={"max_assets": limit})
        for action, value in steps:
            before = identifiers(tenant)
            cap = tenant.limit("max_assets")
            if action == "limit":
                tenant.limits_override = {"max_assets": value}
                tenant.save()
                continue
            if action == "create":
                wanted = f"github.com/acme/{value}"
                try:
                    asset_get_or_create(tenant=tenant, identifier=wanted)
                except AssetLimitReached:
                    self.assertNotIn(wanted, before)
                    self.assertIsNotNone(cap)
                    self.assertGreaterEqual(len(before), cap)
            else:
                rep, ingest_id = report_on(*value), uuid7()
                result = ingest_report(tenant=tenant, report=rep, ingest_id=ingest_id)
                after = identifiers(tenant)
                # Which asset each target index means; a report naming none has its own.
                asset_of = [t.identifier for t in rep.targets] or [f"scan:semgrep:{ingest_id}"]
                refused = {a["identifier"] for a in result.refused_assets}
                self.assertEqual(refused, set(asset_of) - after, "every refusal is reported")
                self.assertFalse(refused & before, "an asset that exists is never refused")
                self.assertEqual(
                    result.refused_findings,
                    sum(1 for f in rep.findings if asset_of[f.target_index or 0] in refused),
                )
                stored = result.findings_created + result.findings_updated + result.findings_skipped
                self.assertEqual(stored + result.refused_findings, len(rep.findings))
                self.assertEqual(bool(refused), any("max_assets" in e for e in result.errors))
                self.assertEqual(result.counts()["refused"]["assets"], result.refused_assets)
            grown = len(identifiers(tenant)) - len(before)
            if cap is not None:
                self.assertLessEqual(len(before) + grown, max(cap, len(before)))


# ------------------------------------------------------------- concurrent ingests (PG)

LOCK_TIMEOUT = "5s"  # a wait this long means "blocked for good": fail instead of hanging


@pytest.mark.postgres
class ConcurrentIngestsShareOneLimit(TransactionTestCase):
    """Two ingests naming new assets at once: the second waits for the first to commit
    (the tenant row), then sees its assets. Neither passes the limit, nor deadlocks.
    Threads with their own connections see only committed rows: a TransactionTestCase."""

    def setUp(self):
        self.tenant = TenantFactory(limits_override={"max_assets": 4})
        AssetFactory(tenant=self.tenant, identifier="github.com/acme/known")

    def ingest_in_thread(self, report: Report, results: list, *, hold=None) -> threading.Thread:
        """Ingest `report` on another connection; with `hold` (a pair of events), set the
        first once stored and wait for the second before committing."""

        def run() -> None:
            try:
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    results.append(ingest_report(tenant=self.tenant, report=report))
                    if hold:
                        hold[0].set()
                        hold[1].wait(30)
            except Exception as exc:  # reported by the test, not lost in the thread
                results.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def test_the_second_ingest_waits_for_the_first_and_gets_only_what_is_left(self):
        stored, release = threading.Event(), threading.Event()
        first, second = [], []
        a = self.ingest_in_thread(report_on("known", "a-1", "a-2"), first, hold=(stored, release))
        try:
            self.assertTrue(stored.wait(30), first)
            b = self.ingest_in_thread(report_on("b-1", "b-2", "known"), second)
            time.sleep(0.5)
            self.assertEqual(second, [], "the second ingest must wait for the first to commit")
        finally:
            release.set()
            a.join(30)
        b.join(30)
        [one], [two] = first, second
        self.assertIsInstance(one, IngestResult, one)
        self.assertIsInstance(two, IngestResult, two)
        self.assertEqual((one.assets_created, one.refused_assets), (2, []))
        self.assertEqual(two.assets_created, 1)
        self.assertEqual([r["identifier"] for r in two.refused_assets], ["github.com/acme/b-2"])
        self.assertEqual(Asset.objects.for_tenant(self.tenant).count(), 4)
        known = Finding.objects.for_tenant(self.tenant).filter(asset__identifier__endswith="known")
        self.assertEqual(known.get(title__startswith="Problem 0").occurrence_count, 2)

    def test_an_ingest_waiting_to_create_assets_holds_none_meanwhile(self):
        """The lock order: the tenant row before any asset. An ingest waiting for the
        tenant row must not hold the assets it names, or a creator holding the tenant
        row and waiting for one of them would deadlock with it."""
        stored, release = threading.Event(), threading.Event()
        first, second = [], []
        a = self.ingest_in_thread(report_on("a-1"), first, hold=(stored, release))
        try:
            self.assertTrue(stored.wait(30), first)
            b = self.ingest_in_thread(report_on("known", "b-1"), second)
            time.sleep(0.5)
            self.assertEqual(second, [])  # waiting for the tenant row
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '500ms'")
                known = (
                    Asset.objects.for_tenant(self.tenant)
                    .select_for_update(no_key=True)
                    .get(identifier="github.com/acme/known")
                )
            self.assertEqual(known.identifier, "github.com/acme/known")
        finally:
            release.set()
            a.join(30)
        b.join(30)
        self.assertTrue(all(isinstance(r, IngestResult) for r in first + second), first + second)

    def test_many_ingests_at_once_never_pass_the_limit(self):
        results: list = []
        threads = [
            self.ingest_in_thread(report_on(f"t{i}-a", f"t{i}-b", "known"), results)
            for i in range(4)
        ]
        for thread in threads:
            thread.join(60)
        self.assertEqual(len(results), 4)
        self.assertTrue(all(isinstance(r, IngestResult) for r in results), results)
        self.assertEqual(Asset.objects.for_tenant(self.tenant).count(), 4)
        self.assertEqual(sum(r.assets_created for r in results), 3)
        self.assertEqual(sum(len(r.refused_assets) for r in results), 5)
