"""The pipeline: dedupe by fingerprint, new / seen / fixed / reopened, SBOM snapshots,
asset stats — with a query count that does not grow with the report."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from findings.models import Asset, AssetDependency, Component, Finding
from findings.rules.severity import Severity
from findings.stats import risk_score
from ingest.pipeline import ingest_report
from protocol.report import Report, ReportDependency, ReportFinding, ReportTarget
from tests.factories import TenantFactory

REPO = ReportTarget(identifier="https://github.com/Acme/Shop.git", type="repository")


def finding(n: int, severity: str = "high", **fields) -> ReportFinding:
    return ReportFinding(
        rule_id=f"rule-{n % 7}",
        title=f"Problem {n}",
        severity=Severity(severity),
        file_path=f"src/module_{n}.py",
        start_line=n + 1,
        end_line=n + 1,
        **fields,
    )


def report(findings, tool="semgrep", **fields) -> Report:
    return Report(
        tool_name=tool, targets=[fields.pop("target", REPO)], findings=list(findings), **fields
    )


class FirstAndRepeatedIngest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()

    def ingest(self, rep: Report, **kwargs):
        return ingest_report(tenant=self.tenant, report=rep, **kwargs)

    def findings(self):
        return Finding.objects.for_tenant(self.tenant)

    def test_a_first_ingest_creates_the_asset_and_every_finding(self):
        result = self.ingest(report([finding(1, "critical"), finding(2), finding(3, "low")]))
        self.assertEqual((result.assets_created, result.findings_created), (1, 3))
        asset = Asset.objects.for_tenant(self.tenant).get()
        self.assertEqual((asset.identifier, asset.provider), ("github.com/acme/shop", "github"))
        self.assertEqual(result.by_severity, {"critical": 1, "high": 1, "low": 1})
        stored = self.findings().get(title="Problem 1")
        self.assertEqual(
            (stored.status, stored.occurrence_count, stored.source_category), ("new", 1, "sast")
        )
        self.assertEqual(stored.first_seen_at, stored.last_seen_at)

    def test_the_same_report_again_creates_nothing_and_updates_everything(self):
        first_time = timezone.now() - timedelta(hours=1)
        self.ingest(report([finding(1), finding(2)]), now=first_time)
        result = self.ingest(report([finding(1), finding(2)]))
        self.assertEqual(
            (
                result.assets_created,
                result.assets_updated,
                result.findings_created,
                result.findings_updated,
            ),
            (0, 1, 0, 2),
        )
        self.assertEqual(self.findings().count(), 2)
        for stored in self.findings():
            self.assertEqual(stored.occurrence_count, 2)
            self.assertEqual(stored.first_seen_at, first_time)
            self.assertGreater(stored.last_seen_at, first_time)

    def test_details_are_refreshed_when_seen_again(self):
        self.ingest(report([finding(1, fingerprint="tool-id-1")]))
        self.ingest(report([finding(1, "critical", fingerprint="tool-id-1", cvss_score=9.8)]))
        stored = self.findings().get()
        self.assertEqual((stored.severity, float(stored.cvss_score)), ("critical", 9.8))

    def test_a_finding_whose_line_moved_but_tool_fingerprint_did_not_stays_one_finding(self):
        self.ingest(report([finding(1, fingerprint="semgrep-abc")]))
        moved = finding(1, fingerprint="semgrep-abc")
        moved.start_line = moved.end_line = 90
        result = self.ingest(report([moved]))
        self.assertEqual((result.findings_created, result.findings_fixed), (0, 0))
        self.assertEqual(self.findings().get().start_line, 90)

    def test_a_full_run_that_no_longer_reports_a_finding_resolves_it(self):
        self.ingest(report([finding(1), finding(2)]), now=timezone.now() - timedelta(minutes=5))
        result = self.ingest(report([finding(1)]))
        self.assertEqual(result.findings_fixed, 1)
        gone = self.findings().get(title="Problem 2")
        self.assertEqual(gone.status, "resolved")
        self.assertIsNotNone(gone.resolved_at)

    def test_a_resolved_finding_seen_again_is_reopened(self):
        self.ingest(report([finding(1), finding(2)]), now=timezone.now() - timedelta(minutes=9))
        self.ingest(report([finding(1)]), now=timezone.now() - timedelta(minutes=5))
        result = self.ingest(report([finding(1), finding(2)]))
        self.assertEqual((result.findings_reopened, result.findings_created), (1, 0))
        back = self.findings().get(title="Problem 2")
        self.assertEqual((back.status, back.reopen_count, back.resolved_at), ("new", 1, None))

    def test_partial_runs_and_other_branches_resolve_nothing(self):
        self.ingest(report([finding(1), finding(2)]), now=timezone.now() - timedelta(minutes=5))
        for partial in (
            report([finding(1)], coverage="partial"),
            report([finding(1)], coverage="incremental"),
            report([finding(1)], branch={"name": "feature/x", "is_default_branch": False}),
        ):
            with self.subTest(coverage=partial.coverage, branch=partial.branch):
                self.assertEqual(self.ingest(partial).findings_fixed, 0)
        self.assertEqual(self.findings().filter(status="resolved").count(), 0)

    def test_only_the_same_tool_resolves_its_findings(self):
        self.ingest(report([finding(1)], tool="bandit"), now=timezone.now() - timedelta(minutes=5))
        self.assertEqual(self.ingest(report([], tool="semgrep")).findings_fixed, 0)
        self.assertEqual(self.ingest(report([], tool="bandit")).findings_fixed, 1)

    def test_triaged_findings_are_never_changed_by_a_scan(self):
        self.ingest(
            report([finding(1), finding(2), finding(3)]), now=timezone.now() - timedelta(minutes=5)
        )
        for title, status in [
            ("Problem 1", "false_positive"),
            ("Problem 2", "accepted"),
            ("Problem 3", "duplicate"),
        ]:
            self.findings().filter(title=title).update(status=status)
        seen_again = self.ingest(report([finding(1), finding(2)]))
        gone = self.ingest(report([]))
        self.assertEqual(seen_again.findings_skipped, 2)
        self.assertEqual(gone.findings_fixed, 0)
        self.assertEqual(
            dict(self.findings().values_list("title", "status")),
            {"Problem 1": "false_positive", "Problem 2": "accepted", "Problem 3": "duplicate"},
        )

    def test_a_finding_listed_twice_in_one_report_is_stored_once(self):
        result = self.ingest(report([finding(1), finding(1)]))
        self.assertEqual((result.findings_created, result.findings_skipped), (1, 1))

    def test_a_suppressed_finding_arrives_as_a_false_positive(self):
        self.ingest(report([finding(1, suppressed=True)]))
        self.assertEqual(self.findings().get().status, "false_positive")

    def test_findings_go_to_the_target_they_name(self):
        other = ReportTarget(identifier="registry.example.com/shop/api:1.2", type="container")
        rep = report([finding(1), finding(2, target_index=1)])
        rep.targets.append(other)
        self.ingest(rep)
        self.assertEqual(
            dict(self.findings().values_list("title", "asset__type")),
            {"Problem 1": "repository", "Problem 2": "container"},
        )

    def test_a_report_without_targets_gets_the_default_target(self):
        rep = Report(tool_name="bandit", findings=[finding(1)])
        ingest_report(
            tenant=self.tenant, report=rep, default_target=ReportTarget("github.com/acme/api")
        )
        self.assertEqual(self.findings().get().asset.identifier, "github.com/acme/api")

    def test_the_session_is_recorded_on_each_finding(self):
        from tests.factories import ScanSessionFactory

        session = ScanSessionFactory(tenant=self.tenant)
        self.ingest(report([finding(1)]), scan_session_id=session.pk)
        self.assertEqual(self.findings().get().last_scan_session, session)

    def test_two_tenants_ingesting_the_same_report_get_independent_findings(self):
        other = TenantFactory()
        self.ingest(report([finding(1)]))
        ingest_report(tenant=other, report=report([finding(1)]))
        self.findings().update(status="false_positive")
        self.assertEqual(Finding.objects.for_tenant(other).get().status, "new")
        self.assertEqual(Asset.objects.for_tenant(other).count(), 1)


class AssetStatistics(TestCase):
    def test_counts_and_risk_follow_the_open_findings(self):
        tenant = TenantFactory()
        rep = report(
            [finding(1, "critical"), finding(2, "high"), finding(3, "high"), finding(4, "info")]
        )
        ingest_report(tenant=tenant, report=rep)
        asset = Asset.objects.for_tenant(tenant).get()
        self.assertEqual(
            (asset.critical_count, asset.high_count, asset.medium_count, asset.info_count),
            (1, 2, 0, 1),
        )
        self.assertEqual(
            asset.risk_score, risk_score({"critical": 1, "high": 2, "info": 1}, "medium")
        )
        self.assertIsNotNone(asset.last_scanned_at)

    def test_the_risk_score_saturates_and_respects_severity(self):
        self.assertEqual(risk_score({}, "critical"), 0)
        self.assertGreater(risk_score({"critical": 1}, "medium"), risk_score({"low": 20}, "medium"))
        self.assertLessEqual(risk_score({"critical": 500}, "critical"), 100)
        self.assertGreater(risk_score({"high": 1}, "critical"), risk_score({"high": 1}, "low"))


class DependencySnapshot(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()

    def sbom(self, *packages):
        return Report(
            tool_name="trivy",
            targets=[REPO],
            dependencies=[
                ReportDependency(name=n, version=v, ecosystem="npm") for n, v in packages
            ],
        )

    def snapshot(self):
        return sorted(
            AssetDependency.objects.for_tenant(self.tenant).values_list(
                "component__purl", flat=True
            )
        )

    def test_dependencies_become_components_linked_to_the_asset(self):
        ingest_report(
            tenant=self.tenant, report=self.sbom(("lodash", "4.17.21"), ("react", "18.2.0"))
        )
        self.assertEqual(self.snapshot(), ["pkg:npm/lodash@4.17.21", "pkg:npm/react@18.2.0"])

    def test_a_new_snapshot_replaces_the_old_one(self):
        ingest_report(
            tenant=self.tenant, report=self.sbom(("lodash", "4.17.20"), ("react", "18.2.0"))
        )
        ingest_report(tenant=self.tenant, report=self.sbom(("lodash", "4.17.21")))
        self.assertEqual(self.snapshot(), ["pkg:npm/lodash@4.17.21"])
        # Components are kept (other assets may use them); one row per purl.
        self.assertEqual(Component.objects.for_tenant(self.tenant).count(), 3)

    def test_a_report_without_dependencies_leaves_the_snapshot_alone(self):
        ingest_report(tenant=self.tenant, report=self.sbom(("lodash", "4.17.21")))
        ingest_report(tenant=self.tenant, report=report([finding(1)]))
        self.assertEqual(self.snapshot(), ["pkg:npm/lodash@4.17.21"])


class QueryBudget(TestCase):
    """The number of queries does not grow with the number of findings."""

    def queries_for(self, n: int, *, again: bool = False) -> int:
        tenant = TenantFactory()
        rep = report([finding(i, ["critical", "high", "medium", "low"][i % 4]) for i in range(n)])
        if again:
            ingest_report(tenant=tenant, report=rep, now=timezone.now() - timedelta(minutes=1))
        with CaptureQueriesContext(connection) as queries:
            result = ingest_report(tenant=tenant, report=rep)
        self.assertEqual(result.findings_created if not again else result.findings_updated, n)
        return len(queries)

    def test_a_first_ingest_costs_the_same_for_10_and_5000_findings(self):
        self.assertEqual(self.queries_for(10), self.queries_for(5000))

    def test_a_repeated_ingest_costs_the_same_for_10_and_5000_findings(self):
        self.assertEqual(self.queries_for(10, again=True), self.queries_for(5000, again=True))


class TriageHistorySurvivesScans(TestCase):
    def test_a_scan_seeing_a_triaged_open_finding_keeps_its_triage_log(self):
        from findings.services import finding_triage
        from tests.factories import UserFactory

        tenant = TenantFactory()
        ingest_report(
            tenant=tenant, report=report([finding(1)]), now=timezone.now() - timedelta(minutes=5)
        )
        stored = Finding.objects.for_tenant(tenant).get()
        finding_triage(finding=stored, status="confirmed", note="reproduced", by=UserFactory())
        ingest_report(tenant=tenant, report=report([finding(1, metadata={"tool": "extra"})]))
        stored.refresh_from_db()
        self.assertEqual(stored.metadata["tool"], "extra")
        self.assertEqual(stored.metadata["triage"][0]["note"], "reproduced")
        self.assertEqual(stored.status, "confirmed")


class Sightings(TestCase):
    def test_each_run_that_reports_a_finding_is_remembered_once(self):
        from findings.models import FindingSighting
        from tests.factories import ScanSessionFactory

        tenant = TenantFactory()
        first, second = ScanSessionFactory(tenant=tenant), ScanSessionFactory(tenant=tenant)
        ingest_report(
            tenant=tenant,
            report=report([finding(1), finding(2)]),
            scan_session_id=first.pk,
            now=timezone.now() - timedelta(minutes=5),
        )
        ingest_report(tenant=tenant, report=report([finding(1)]), scan_session_id=second.pk)
        seen = FindingSighting.objects.for_tenant(tenant)
        self.assertEqual(seen.filter(scan_session=first).count(), 2)
        self.assertEqual(
            list(seen.filter(scan_session=second).values_list("finding__title", flat=True)),
            ["Problem 1"],
        )
