"""Which asset a report's findings belong to, and when a report may resolve findings.

The rule: a report resolves findings only on assets it names — its own (RIS `assets`,
flat `targets`, SARIF `versionControlProvenance`, a branch's `repository_url`), the
`asset` its sender names, or the target of the scan session it is sent for. A report
naming none is stored on an asset of its own and resolves nothing, and the reply says so.
"""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from rest_framework.test import APIClient

from agents.services import agent_create
from findings.models import Asset, Finding
from scans.models import ScanSession
from tests.agents.test_agent_auth import bearer
from tests.factories import AssetFactory, MembershipFactory, ScanSessionFactory, TenantFactory

INGEST = "/api/v1/agent/ingest"


def sarif(*rules: str, repository: str = "", tool: str = "semgrep") -> dict:
    run: dict = {
        "tool": {"driver": {"name": tool}},
        "results": [
            {
                "ruleId": rule,
                "level": "error",
                "message": {"text": f"{rule} found"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": f"app/{rule}.py"},
                            "region": {"startLine": 3},
                        }
                    }
                ],
            }
            for rule in rules
        ],
    }
    if repository:
        run["versionControlProvenance"] = [{"repositoryUri": repository}]
    return {"version": "2.1.0", "runs": [run]}


def ris(*rules: str, assets: list | None = None, **metadata) -> dict:
    return {
        "version": "1.0",
        "metadata": {"timestamp": "2026-11-26T12:00:00Z", **metadata},
        "tool": {"name": "semgrep"},
        "assets": assets or [],
        "findings": [
            {
                "type": "vulnerability",
                "title": f"{rule} found",
                "severity": "high",
                "rule_id": rule,
                "location": {"path": f"app/{rule}.py", "start_line": 3},
            }
            for rule in rules
        ],
    }


def flat(*rules: str, targets: list | None = None, **metadata) -> dict:
    return {
        "version": "1.0",
        "metadata": {"tool_name": "semgrep", **metadata},
        "targets": targets or [],
        "findings": [
            {
                "rule_id": rule,
                "severity": "high",
                "message": f"{rule} found",
                "file_path": f"app/{rule}.py",
                "start_line": 3,
            }
            for rule in rules
        ],
    }


class IngestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="ci")

    def post(self, body: dict, path: str = f"{INGEST}/sarif", query: str = "", **headers):
        response = bearer(self.key).post(
            f"{path}{'?' if query else ''}{query}",
            data=json.dumps(body),
            content_type="application/json",
            **headers,
        )
        self.assertEqual(response.status_code, 201, response.content)
        return response.json()

    def status_of(self, rule: str) -> str:
        return Finding.objects.for_tenant(self.tenant).get(rule_id=rule).status

    def asset_of(self, rule: str) -> Asset:
        return Finding.objects.for_tenant(self.tenant).get(rule_id=rule).asset


class ReportsNamingNoAsset(IngestCase):
    def test_two_sarif_reports_of_different_repositories_leave_each_others_findings_open(self):
        # Before: both landed on `scan:semgrep:adhoc`, and the second, a full run that
        # did not see the first one's findings, marked them resolved.
        self.post(sarif("shop-sqli", "shop-xss"))
        self.post(sarif("billing-eval"))
        for rule in ("shop-sqli", "shop-xss", "billing-eval"):
            self.assertEqual(self.status_of(rule), "new", rule)
        self.assertNotEqual(self.asset_of("shop-sqli"), self.asset_of("billing-eval"))
        self.assertEqual(self.asset_of("shop-sqli"), self.asset_of("shop-xss"))

    def test_such_a_report_is_stored_on_an_asset_of_its_own_and_the_reply_says_why(self):
        reply = self.post(sarif("shop-sqli"))
        asset = self.asset_of("shop-sqli")
        self.assertEqual(
            (asset.type, asset.identifier), ("other", f"scan:semgrep:{reply['ingest_id']}")
        )
        self.assertEqual((reply["findings_created"], reply["findings_fixed"]), (1, 0))
        (note,) = reply["errors"]
        self.assertIn("the report names no asset", note)
        self.assertIn(f"stored on {asset.identifier} and resolve nothing", note)
        self.assertIn("send `asset`", note)

    def test_ris_and_flat_reports_without_assets_or_scan_id_resolve_nothing(self):
        for path, report, later in (
            (f"{INGEST}/ris", ris("ris-a", "ris-b"), ris("ris-c")),
            (INGEST, flat("flat-a", "flat-b"), flat("flat-c")),
        ):
            with self.subTest(path=path):
                self.post(report, path=path)
                reply = self.post(later, path=path)
                self.assertEqual(reply["findings_fixed"], 0)
                self.assertIn("names no asset", reply["errors"][0])
        self.assertFalse(Finding.objects.for_tenant(self.tenant).exclude(status="new").exists())

    def test_a_scan_id_that_names_no_session_does_not_name_an_asset(self):
        # The reference SDK puts a random scan id in every flat report it sends.
        self.post(flat("a", "b", scan_id="4f0c1de2a9b84c5e8a0d6c1b2e3f4a5b"), path=INGEST)
        reply = self.post(flat("c", scan_id="4f0c1de2a9b84c5e8a0d6c1b2e3f4a5b"), path=INGEST)
        self.assertEqual(reply["findings_fixed"], 0)
        self.assertEqual((self.status_of("a"), self.status_of("b")), ("new", "new"))

    def test_a_session_that_recorded_an_unnamed_report_names_no_asset_for_the_next(self):
        first = self.post(sarif("a", "b"))
        reply = self.post(sarif("c"), query=f"scan_session={first['scan_id']}")
        self.assertEqual(reply["scan_id"], first["scan_id"])
        self.assertEqual((reply["findings_fixed"], self.status_of("a")), (0, "new"))
        self.assertNotEqual(self.asset_of("a"), self.asset_of("c"))


class ReportsForAScanSession(IngestCase):
    def setUp(self):
        self.asset = AssetFactory(tenant=self.tenant, identifier="github.com/acme/shop")

    def session(self) -> ScanSession:
        return ScanSessionFactory(
            tenant=self.tenant,
            status="running",
            asset=self.asset,
            asset_value=self.asset.identifier,
            asset_type="repository",
        )

    def test_a_report_sent_for_a_session_lands_on_its_target_and_resolves_there(self):
        ways = {
            "scan_session parameter": lambda s: {"query": f"scan_session={s.pk}"},
            "X-Scan-Session header": lambda s: {"HTTP_X_SCAN_SESSION": str(s.pk)},
        }
        for way, how in ways.items():
            with self.subTest(way=way):
                Finding.objects.all().delete()
                self.post(sarif("sqli", "xss"), **how(self.session()))
                session = self.session()
                reply = self.post(sarif("sqli"), **how(session))
                self.assertEqual(reply["scan_id"], str(session.pk))
                self.assertEqual(reply["errors"], [])
                self.assertEqual(self.asset_of("sqli"), self.asset)
                self.assertEqual(reply["findings_fixed"], 1)
                self.assertEqual(
                    (self.status_of("sqli"), self.status_of("xss")), ("new", "resolved")
                )

    def test_the_reports_own_scan_id_naming_a_session_is_enough(self):
        self.post(flat("sqli", "xss", scan_id=str(self.session().pk)), path=INGEST)
        reply = self.post(flat("sqli", scan_id=str(self.session().pk)), path=INGEST)
        self.assertEqual((reply["findings_fixed"], self.asset_of("sqli")), (1, self.asset))
        self.assertEqual(self.status_of("xss"), "resolved")

    def test_a_session_known_only_by_its_target_value_names_that_asset(self):
        session = ScanSessionFactory(
            tenant=self.tenant, asset_value="github.com/acme/billing", asset_type="repository"
        )
        self.post(ris("eval"), path=f"{INGEST}/ris", query=f"scan_session={session.pk}")
        self.assertEqual(self.asset_of("eval").identifier, "github.com/acme/billing")

    def test_assets_the_report_names_itself_win_over_the_sessions_target(self):
        session = self.session()
        self.post(
            sarif("sqli", repository="https://github.com/acme/api"),
            HTTP_X_SCAN_SESSION=str(session.pk),
        )
        self.assertEqual(self.asset_of("sqli").identifier, "github.com/acme/api")


class AnAssetNamedByTheSender(IngestCase):
    def test_the_asset_parameter_is_honoured_and_lets_a_full_run_resolve(self):
        query = "asset=https://github.com/Acme/Shop.git&asset_type=repository"
        self.post(sarif("sqli", "xss"), query=query)
        reply = self.post(sarif("sqli"), query=query)
        asset = self.asset_of("sqli")
        self.assertEqual((asset.type, asset.identifier), ("repository", "github.com/acme/shop"))
        self.assertEqual((reply["findings_fixed"], self.status_of("xss")), (1, "resolved"))
        self.assertEqual(reply["errors"], [])

    def test_it_names_the_asset_on_every_agent_report_endpoint(self):
        for path, report, rule in (
            (INGEST, flat("flat-a"), "flat-a"),
            (f"{INGEST}/ris", ris("ris-a"), "ris-a"),
            (f"{INGEST}/sarif", sarif("sarif-a"), "sarif-a"),
        ):
            with self.subTest(path=path):
                reply = self.post(report, path=path, query="asset=github.com/acme/shop")
                self.assertEqual(self.asset_of(rule).identifier, "github.com/acme/shop")
                self.assertEqual(reply["errors"], [])

    def test_a_report_naming_its_own_assets_keeps_them(self):
        self.post(
            ris("sqli", assets=[{"id": "a", "type": "repository", "value": "github.com/acme/api"}]),
            path=f"{INGEST}/ris",
            query="asset=github.com/acme/shop",
        )
        self.assertEqual(self.asset_of("sqli").identifier, "github.com/acme/api")

    def test_a_branch_repository_url_names_the_asset(self):
        branch = {
            "name": "main",
            "is_default_branch": True,
            "repository_url": "github.com/acme/web",
        }
        self.post(ris("a", "b", branch=branch), path=f"{INGEST}/ris")
        reply = self.post(ris("a", branch=branch), path=f"{INGEST}/ris")
        self.assertEqual((reply["findings_fixed"], self.status_of("b")), (1, "resolved"))

    def test_a_bad_asset_or_asset_type_is_a_400_naming_the_parameter(self):
        for query, field in (
            ("asset=github.com/acme/shop&asset_type=spaceship", "asset_type"),
            ("asset_type=repository", "asset_type"),
            ("asset=%01%02", "asset"),
            (f"asset={'a' * 1025}", "asset"),
        ):
            with self.subTest(query=query):
                response = bearer(self.key).post(
                    f"{INGEST}/sarif?{query}", sarif("x"), format="json"
                )
                self.assertEqual(response.status_code, 400, response.content)
                self.assertTrue(response.json()["error"]["message"].startswith(field))
        self.assertFalse(Finding.objects.exists())


class PeopleUploading(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.member = MembershipFactory(tenant=cls.tenant, role="member").user

    def upload(self, report: dict, **fields):
        client = APIClient()
        client.force_login(self.member)
        file = SimpleUploadedFile("report.sarif", json.dumps(report).encode())
        response = client.post(
            "/api/v1/ingest/upload", {"file": file, **fields}, format="multipart"
        )
        self.assertEqual(response.status_code, 201, response.content)
        return response.json()

    def test_an_upload_naming_no_asset_is_kept_apart_and_one_with_asset_lands_on_it(self):
        self.upload(sarif("a", "b"))
        alone = self.upload(sarif("c"))
        self.assertIn("names no asset", alone["errors"][0])
        self.assertFalse(Finding.objects.for_tenant(self.tenant).exclude(status="new").exists())
        named = self.upload(sarif("d"), asset="github.com/acme/shop")
        self.assertEqual(named["errors"], [])
        self.assertEqual(
            Finding.objects.for_tenant(self.tenant).get(rule_id="d").asset.identifier,
            "github.com/acme/shop",
        )
