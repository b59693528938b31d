"""Every real report in ../shared/data, ingested end to end: parse (format detected),
dedupe, store. The numbers are the distinct findings each file holds (a report listing
the same result twice stores it once), their severities, and the SBOM components."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from django.test import TestCase
from django.utils import timezone

from findings.models import Asset, AssetDependency, Finding
from ingest.services import ingest_submit
from tests.factories import TenantFactory
from tests.shared_data import DATA

# file: (format to name, or None to detect; findings stored, skipped as repeats;
#        severities; false positives; components)
EXPECTED = {
    "bandit/many_vulns.json": (None, 213, 1, {"low": 59, "medium": 154}, 0, 0),
    "bandit/no_vuln.json": (None, 0, 0, {}, 0, 0),
    "bandit/one_vuln.json": (None, 1, 0, {"low": 1}, 0, 0),
    "checkov/checkov-report-0-vuln.json": (None, 0, 0, {}, 0, 0),
    "checkov/checkov-report-many-vuln.json": (None, 3, 0, {"medium": 3}, 0, 0),
    "checkov/checkov-report-severity.json": (None, 4, 0, {"medium": 2, "low": 1, "high": 1}, 0, 0),
    "cyclonedx/jake2.json": (None, 7, 0, {"high": 3, "medium": 4}, 0, 67),
    "cyclonedx/log4j.json": (None, 8, 0, {"critical": 4, "medium": 3, "high": 1}, 0, 1),
    # The same grype scan as XML: the same findings and component.
    "cyclonedx/log4j.xml": (None, 8, 0, {"critical": 4, "medium": 3, "high": 1}, 0, 1),
    # Its analysis says not_affected: a false positive.
    "cyclonedx/valid-vulnerability-1.4.xml": (None, 1, 0, {"critical": 1}, 1, 1),
    "detect_secrets/many_findings.json": (None, 4, 0, {"high": 4}, 1, 0),
    "detect_secrets/no_findings.json": (None, 0, 0, {}, 0, 0),
    "gitleaks/data_one.json": (None, 1, 0, {"high": 1}, 0, 0),
    "gitleaks/gitleaks8_many.json": (None, 3, 1, {"high": 3}, 0, 0),
    "gitleaks/no_findings.json": ("gitleaks", 0, 0, {}, 0, 0),
    "nuclei/empty.jsonl": ("nuclei", 0, 0, {}, 0, 0),
    "nuclei/many_findings.json": (None, 18, 0, {"info": 16, "low": 1, "medium": 1}, 0, 0),
    # pip-audit gives no severity (medium); every dependency, audited or not, is in the SBOM.
    "pip_audit/many_vulns.json": (None, 7, 0, {"medium": 7}, 0, 7),
    "pip_audit/many_vulns_new.json": (None, 7, 0, {"medium": 7}, 0, 7),
    "pip_audit/zero_vulns_new.json": (None, 0, 0, {}, 0, 3),
    "sarif/appendix_k1.sarif": (None, 0, 0, {}, 0, 0),
    "sarif/bash-report.sarif": (None, 12, 15, {"low": 12}, 0, 0),
    "sarif/codeQL-output.sarif": (None, 72, 0, {"low": 57, "high": 11, "medium": 4}, 0, 0),
    "sarif/njsscan.sarif": (None, 2, 0, {"medium": 1, "high": 1}, 0, 0),
    "sarif/no_runs.sarif": (None, 0, 0, {}, 0, 0),
    "sarif/suppression_test.sarif": (None, 5, 0, {"medium": 5}, 3, 0),
    "sarif/taint-python-report.sarif": (None, 10, 1, {"high": 8, "medium": 1, "low": 1}, 0, 0),
    # ERROR rules whose impact is MEDIUM: the severity word decides, as in semgrep's SARIF.
    "semgrep/close_old_findings_report_line31.json": (None, 1, 0, {"high": 1}, 0, 0),
    "semgrep/close_old_findings_report_second_run_line24.json": (None, 1, 0, {"high": 1}, 0, 0),
    "semgrep/close_old_findings_report_third_run_different_unique_id.json": (
        None,
        1,
        0,
        {"high": 1},
        0,
        0,
    ),
    "semgrep/empty.json": (None, 0, 0, {}, 0, 0),
    "semgrep/many_vulns.json": (None, 48, 0, {"high": 13, "medium": 35}, 0, 0),
    "semgrep/one_finding.json": (None, 1, 0, {"medium": 1}, 0, 0),
    "spdx/spdx_many_vuln.json": (None, 0, 0, {}, 0, 4),
    "spdx/spdx_one_vuln.json": (None, 0, 0, {}, 0, 3),
    "trivy/misconfigurations_and_secrets.json": (
        None,
        5,
        0,
        {"critical": 2, "high": 2, "medium": 1},
        0,
        0,
    ),
    "trivy/scheme_2_many_vulns.json": (None, 5, 0, {"critical": 1, "high": 1, "medium": 3}, 0, 0),
    "trivy/scheme_2_no_vuln.json": (None, 0, 0, {}, 0, 0),
    "trufflehog/v3_git.json": (None, 3, 1, {"critical": 3}, 0, 0),
    # The 2nd and 4th issues are one secret of one file (one trufflehog3 id).
    "trufflehog3/many_vulns_current.json": (None, 3, 1, {"high": 1, "medium": 1, "low": 1}, 0, 0),
    # 74 strings found in 32 issues: 21 distinct lines once their diff markers are gone.
    "trufflehog3/many_vulns_legacy.json": (None, 21, 53, {"medium": 21}, 0, 0),
    "trufflehog3/zero_vulns.json": ("trufflehog3", 0, 0, {}, 0, 0),
}


class EveryRealReport(TestCase):
    def test_the_table_covers_every_report_in_the_data_folder(self):
        on_disk = {
            str(p.relative_to(DATA))
            for p in DATA.rglob("*")
            if p.is_file() and p.suffix in (".json", ".sarif", ".jsonl", ".xml")
        }
        self.assertEqual(on_disk, set(EXPECTED))

    def test_each_report_stores_what_it_holds(self):
        for name, (
            fmt,
            stored,
            repeats,
            severities,
            false_positives,
            components,
        ) in EXPECTED.items():
            with self.subTest(report=name):
                tenant = TenantFactory()
                run = ingest_submit(
                    tenant=tenant,
                    raw=(DATA / name).read_bytes(),
                    format=fmt,
                    options={"asset": "github.com/acme/app"},
                )
                findings = Finding.objects.for_tenant(tenant)
                self.assertEqual(run.status, "completed")
                self.assertEqual(
                    (run.result["findings_created"], run.result["findings_skipped"]),
                    (stored, repeats),
                )
                self.assertEqual(
                    dict(Counter(findings.values_list("severity", flat=True))), severities
                )
                self.assertEqual(findings.filter(status="false_positive").count(), false_positives)
                self.assertEqual(AssetDependency.objects.for_tenant(tenant).count(), components)
                # A report that names its own target (trivy's image, SARIF's repository)
                # is filed under it; the others under the asset given with the upload.
                self.assertEqual(Asset.objects.for_tenant(tenant).count(), 1)

    def test_ingesting_each_report_twice_creates_nothing_new(self):
        tenant = TenantFactory()
        for name, (fmt, stored, _repeats, _severities, false_positives, _) in EXPECTED.items():
            with self.subTest(report=name):
                raw = (DATA / name).read_bytes()
                options = {"asset": f"github.com/acme/{name.replace('/', '-')}"}
                ingest_submit(tenant=tenant, raw=raw, format=fmt, options={**options, "n": 1})
                again = ingest_submit(
                    tenant=tenant, raw=raw, format=fmt, options={**options, "n": 2}
                )
                self.assertEqual(again.result["findings_created"], 0)
                self.assertEqual(again.result["findings_fixed"], 0)
                # Everything seen again is refreshed, except what was filed as a false
                # positive, which no scan touches.
                self.assertEqual(again.result["findings_updated"], stored - false_positives)


class SemgrepLineMove(TestCase):
    """DefectDojo closes a finding whose line moved and opens a new one; we do not."""

    def test_a_moved_finding_stays_one_open_finding_and_a_different_one_replaces_it(self):
        tenant = TenantFactory()
        options = {"asset": "github.com/owasp/benchmark"}

        def ingest(name: str, n: int):
            raw = (DATA / "semgrep" / name).read_bytes()
            return ingest_submit(tenant=tenant, raw=raw, format=None, options={**options, "n": n})

        ingest("close_old_findings_report_line31.json", 1)
        moved = ingest("close_old_findings_report_second_run_line24.json", 2)
        self.assertEqual(
            (
                moved.result["findings_created"],
                moved.result["findings_updated"],
                moved.result["findings_fixed"],
            ),
            (0, 1, 0),
        )
        finding = Finding.objects.for_tenant(tenant).get()
        self.assertEqual(
            (finding.start_line, finding.status, finding.occurrence_count), (24, "new", 2)
        )

        Finding.objects.for_tenant(tenant).update(
            last_seen_at=timezone.now() - timezone.timedelta(minutes=1)
        )
        other = ingest("close_old_findings_report_third_run_different_unique_id.json", 3)
        self.assertEqual((other.result["findings_created"], other.result["findings_fixed"]), (1, 1))
        finding.refresh_from_db()
        self.assertEqual(finding.status, "resolved")


class NoSecretIsStored(TestCase):
    """trufflehog3's own output on a git history holding a generated EC private key and a
    fake AWS key (tests/ingest/parsers/data/README.md), stored end to end."""

    def test_no_secret_and_no_piece_of_the_private_key_reaches_the_database(self):
        raw = Path(__file__).parent / "parsers" / "data" / "trufflehog3" / "git-history.json"
        issues = json.loads(raw.read_bytes())
        tenant = TenantFactory()
        run = ingest_submit(
            tenant=tenant,
            raw=raw.read_bytes(),
            format=None,
            options={"asset": "github.com/acme/app"},
        )
        self.assertEqual((run.result["findings_created"], run.result["findings_skipped"]), (5, 6))
        rows = json.dumps(list(Finding.objects.for_tenant(tenant).values()), default=str)
        for issue in issues:
            self.assertNotIn(issue["secret"], rows)
        key_lines = {
            text.lstrip("+")
            for issue in issues
            if issue["path"] == "deploy_key"
            for text in issue["context"].values()
            if text.lstrip("+") and "-----" not in text and not text.startswith("@@")
        }
        self.assertEqual(len(key_lines), 3)
        for line in key_lines:
            for start in range(len(line) - 7):
                self.assertNotIn(line[start : start + 8], rows)
