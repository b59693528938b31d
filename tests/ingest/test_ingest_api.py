"""The ingest endpoints as agents and users call them."""

from __future__ import annotations

import base64
import gzip
import json

import zstandard
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from agents.services import agent_create
from findings.models import Asset, Finding
from ingest.models import Ingest
from scans.models import ScanSession
from tests.agents.test_agent_auth import bearer
from tests.factories import AssetFactory, MembershipFactory, ScanSessionFactory, TenantFactory

INGEST = "/api/v1/agent/ingest"


def flat_report(*severities: str, identifier: str = "github.com/acme/shop", **metadata) -> dict:
    return {
        "version": "1.0",
        "metadata": {"tool_name": "semgrep", "tool_version": "1.185.0", **metadata},
        "targets": [{"type": "repository", "identifier": identifier, "name": "Shop"}],
        "findings": [
            {
                "rule_id": f"rule.{i}",
                "severity": severity,
                "message": f"Problem {i}",
                "file_path": f"src/f{i}.py",
                "start_line": i + 1,
                "end_line": i + 1,
                "cwe_ids": ["CWE-89"],
            }
            for i, severity in enumerate(severities)
        ],
        "dependencies": [{"name": "lodash", "version": "4.17.21", "ecosystem": "npm"}],
        "summary": {"total_findings": len(severities)},
    }


class AgentIngest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="worker")

    def post(self, body, path=INGEST, encoding=None, **headers):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if encoding == "gzip":
            data = gzip.compress(data)
        elif encoding == "zstd":
            data = zstandard.ZstdCompressor().compress(data)
        if encoding:
            headers["HTTP_CONTENT_ENCODING"] = encoding
        return bearer(self.key).post(path, data=data, content_type="application/json", **headers)

    def assert_refused(self, response, status: int, code: str, mentions: str = ""):
        self.assertEqual(response.status_code, status, response.content)
        error = response.json()["error"]
        self.assertEqual(error["code"], code)
        self.assertIn(mentions, error["message"])
        self.assertFalse(Finding.objects.exists())

    def test_nul_characters_are_stored_as_replacement_characters(self):
        # PostgreSQL text and JSONB cannot hold NUL; a scanner quoting a binary file may.
        report = flat_report("high", identifier="github.com/acme/bin\u0000")
        report["findings"][0] |= {"message": "a\u0000b", "snippet": "\u0000\u0000"}
        report["metadata"]["note\u0000"] = "x\u0000"
        for path in (INGEST, f"{INGEST}/ris"):
            with self.subTest(path=path):
                response = self.post(report, path=path)
                self.assertEqual(response.status_code, 201, response.content)
        finding = Finding.objects.for_tenant(self.tenant).get()
        self.assertEqual(finding.title, "a\ufffdb")
        self.assertEqual(finding.asset.identifier, "github.com/acme/bin\ufffd")

    def test_a_flat_report_is_stored_and_counted(self):
        response = self.post(flat_report("critical", "high", "low"))
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(
            {
                k: body[k]
                for k in (
                    "assets_created",
                    "findings_created",
                    "findings_updated",
                    "findings_fixed",
                    "findings_reopened",
                    "findings_skipped",
                )
            },
            {
                "assets_created": 1,
                "findings_created": 3,
                "findings_updated": 0,
                "findings_fixed": 0,
                "findings_reopened": 0,
                "findings_skipped": 0,
            },
        )
        self.assertEqual(body["errors"], [])
        session = ScanSession.objects.for_tenant(self.tenant).get(pk=body["scan_id"])
        self.assertEqual(
            (session.status, session.findings_total, session.findings_new), ("completed", 3, 3)
        )
        self.assertEqual(session.findings_by_severity, {"critical": 1, "high": 1, "low": 1})
        self.assertEqual(session.agent, self.agent)
        self.assertEqual(session.asset_value, "github.com/acme/shop")
        self.assertEqual(
            Finding.objects.for_tenant(self.tenant).filter(last_scan_session=session).count(), 3
        )

    def test_gzip_and_zstd_bodies_are_decoded(self):
        for encoding in ("gzip", "zstd"):
            with self.subTest(encoding=encoding):
                response = self.post(
                    flat_report("high", identifier=f"github.com/acme/{encoding}"), encoding=encoding
                )
                self.assertEqual(response.status_code, 201, response.content)

    def test_retrying_the_same_report_is_safe_and_gets_the_same_answer(self):
        first = self.post(flat_report("high", "low")).json()
        second = self.post(flat_report("high", "low")).json()
        self.assertEqual((first.pop("replay"), second.pop("replay")), (False, True))
        self.assertEqual(first, second)
        self.assertEqual(Finding.objects.count(), 2)
        self.assertEqual(ScanSession.objects.count(), 1)

    def test_a_report_names_its_scan_session(self):
        session = ScanSessionFactory(tenant=self.tenant, status="running")
        body = self.post(flat_report("high", scan_id=str(session.pk))).json()
        self.assertEqual(body["scan_id"], str(session.pk))
        session.refresh_from_db()
        self.assertEqual((session.findings_new, session.status), (1, "running"))

    def test_another_tenants_session_is_never_linked(self):
        theirs = ScanSessionFactory()
        body = self.post(flat_report("high", scan_id=str(theirs.pk))).json()
        self.assertNotEqual(body["scan_id"], str(theirs.pk))
        theirs.refresh_from_db()
        self.assertEqual(theirs.findings_total, 0)

    def test_an_agent_cannot_write_into_another_tenants_asset(self):
        theirs = AssetFactory(identifier="github.com/acme/shop")
        self.post(flat_report("high"))
        self.assertFalse(Finding.objects.filter(asset=theirs).exists())
        self.assertEqual(Finding.objects.get().asset.tenant, self.tenant)

    def test_a_ris_report_is_accepted_plain_and_wrapped(self):
        ris = {
            "version": "1.0",
            "metadata": {"timestamp": "2026-11-26T12:00:00Z"},
            "tool": {"name": "trivy", "version": "0.50"},
            "assets": [{"id": "img", "type": "container", "value": "nginx:1.25"}],
            "findings": [
                {
                    "type": "vulnerability",
                    "title": "openssl: CVE-2024-0001",
                    "severity": "critical",
                    "asset_ref": "img",
                    "vulnerability": {
                        "cve_id": "CVE-2024-0001",
                        "package": "openssl",
                        "affected_version": "3.0.1",
                        "cvss_score": 9.1,
                    },
                }
            ],
        }
        self.assertEqual(self.post(ris, path=f"{INGEST}/ris").status_code, 201)
        again = self.post({"report": ris}, path=f"{INGEST}/ris").json()
        self.assertEqual(again["findings_updated"], 1)
        stored = Finding.objects.get()
        self.assertEqual(
            (stored.asset.identifier, stored.source_category),
            ("docker.io/library/nginx:1.25", "sca"),
        )
        self.assertEqual((stored.package_name, stored.cve_id), ("openssl", "CVE-2024-0001"))

    def test_bad_input_names_the_field_and_writes_nothing(self):
        bad = flat_report("high", "high")
        # Not a word at all (an unknown word is stored as medium: test_wire_protocol.py).
        bad["findings"][1]["severity"] = ["apocalyptic"]
        self.assert_refused(self.post(bad), 400, "VALIDATION_ERROR", "findings[1].severity")
        missing = flat_report("high")
        del missing["metadata"]["tool_name"]
        self.assert_refused(self.post(missing), 400, "VALIDATION_ERROR", "metadata.tool_name")
        wrong_type = flat_report("high")
        wrong_type["findings"][0]["start_line"] = "forty"
        self.assert_refused(
            self.post(wrong_type), 400, "VALIDATION_ERROR", "findings[0].start_line"
        )
        self.assertFalse(Asset.objects.exists())
        self.assertFalse(ScanSession.objects.exists())

    def test_malformed_json_is_a_400(self):
        self.assert_refused(self.post(b'{"version": '), 400, "VALIDATION_ERROR", "not valid JSON")

    def test_an_unknown_encoding_is_a_415_and_a_corrupt_one_a_400(self):
        self.assert_refused(
            self.post(b"xx", HTTP_CONTENT_ENCODING="br"), 415, "UNSUPPORTED_MEDIA_TYPE"
        )
        self.assert_refused(
            self.post(b"not gzip", HTTP_CONTENT_ENCODING="gzip"), 400, "INVALID_BODY"
        )

    @override_settings(INGEST_MAX_BYTES=2048)
    def test_a_body_over_the_limit_is_a_413_even_when_compressed(self):
        huge = flat_report(*["high"] * 100)
        self.assert_refused(self.post(huge), 413, "PAYLOAD_TOO_LARGE")
        self.assert_refused(self.post(huge, encoding="gzip"), 413, "PAYLOAD_TOO_LARGE")

    @override_settings(INGEST_ASYNC_THRESHOLD_BYTES=1024)
    def test_a_large_report_is_stored_in_the_background(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.post(flat_report(*["medium"] * 30))
        self.assertEqual(response.status_code, 202)
        ingest_id = response.json()["ingest_id"]
        status = bearer(self.key).get(f"{INGEST}/{ingest_id}")
        self.assertEqual(status.status_code, 201, status.content)
        self.assertEqual(status.json()["findings_created"], 30)
        self.assertIsNone(Ingest.objects.get(pk=ingest_id).payload)

    def test_the_status_of_another_agents_ingest_is_404(self):
        other, other_key = agent_create(tenant=self.tenant, name="other")
        ingest_id = self.post(flat_report("high")).json()["ingest_id"]
        self.assertEqual(bearer(other_key).get(f"{INGEST}/{ingest_id}").status_code, 404)
        self.assertEqual(bearer(self.key).get(f"{INGEST}/nonsense").status_code, 404)

    def test_check_tells_known_fingerprints_from_unknown_in_one_query(self):
        self.post(flat_report("high"))
        known = Finding.objects.get().fingerprint
        with self.assertNumQueries(2):  # key, findings
            response = bearer(self.key).post(
                f"{INGEST}/check", {"fingerprints": [known, "f" * 64]}, format="json"
            )
        self.assertEqual(response.json(), {"existing": [known], "missing": ["f" * 64]})

    def test_check_takes_its_100000_fingerprints_compressed_or_not(self):
        asked = {"fingerprints": [f"{n:064x}" for n in range(100_000)]}  # 6.7 MB of JSON
        for encoding in (None, "zstd", "gzip"):
            with self.subTest(encoding=encoding):
                response = self.post(asked, path=f"{INGEST}/check", encoding=encoding)
                self.assertEqual(response.status_code, 200, response.content[:300])
                self.assertEqual(len(response.json()["missing"]), 100_000)
        too_many = {"fingerprints": asked["fingerprints"] + ["f" * 64]}
        response = self.post(too_many, path=f"{INGEST}/check", encoding="zstd")
        self.assertEqual(response.json()["error"]["code"], "VALIDATION_ERROR")
        self.assertIn("fingerprints", response.json()["error"]["message"])
        response = self.post(b"{not json", path=f"{INGEST}/check")
        self.assertEqual(response.status_code, 400)

    def test_check_never_reveals_another_tenants_fingerprints(self):
        other_tenant = TenantFactory()
        other_agent, other_key = agent_create(tenant=other_tenant, name="w")
        bearer(other_key).post(INGEST, flat_report("high"), format="json")
        known = Finding.objects.get().fingerprint
        response = bearer(self.key).post(
            f"{INGEST}/check", {"fingerprints": [known]}, format="json"
        )
        self.assertEqual(response.json(), {"existing": [], "missing": [known]})

    def test_chunks_are_assembled_in_order_into_one_report(self):
        whole = flat_report("high", "low", "critical")
        first = {**whole, "findings": whole["findings"][:2], "dependencies": []}
        second = {"findings": whole["findings"][2:], "dependencies": whole["dependencies"]}

        def chunk(index, fragment, final=False):
            data = base64.b64encode(gzip.compress(json.dumps(fragment).encode())).decode()
            return bearer(self.key).post(
                f"{INGEST}/chunk",
                {
                    "report_id": "scan-42",
                    "chunk_index": index,
                    "total_chunks": 2,
                    "compression": "gzip",
                    "data": data,
                    "is_final": final,
                    "format": "flat",
                },
                format="json",
            )

        late = chunk(1, second, final=True)
        self.assertEqual((late.status_code, late.json()["status"]), (202, "accepted"))
        done = chunk(0, first)
        self.assertEqual(done.status_code, 201, done.content)
        self.assertEqual(done.json()["findings_created"], 3)

    def test_a_chunk_with_bad_base64_is_a_400(self):
        response = bearer(self.key).post(
            f"{INGEST}/chunk",
            {"report_id": "r1", "chunk_index": 0, "total_chunks": 1, "data": "***"},
            format="json",
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("data", response.json()["error"]["message"])

    def test_ingest_needs_the_scans_module(self):
        self.tenant.modules_override = {"scans": False}
        self.tenant.save()
        response = self.post(flat_report("high"))
        self.assertEqual(response.json()["error"]["code"], "MODULE_DISABLED")

    def test_ingest_needs_a_key(self):
        response = APIClient().post(INGEST, flat_report("high"), format="json")
        self.assertEqual(response.status_code, 401)


class ManualUpload(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.member = MembershipFactory(tenant=cls.tenant, role="member").user
        cls.viewer = MembershipFactory(tenant=cls.tenant, role="viewer").user

    def upload(self, user, **fields):
        client = APIClient()
        client.force_login(user)
        report = SimpleUploadedFile("report.json", json.dumps(flat_report("high")).encode())
        return client.post("/api/v1/ingest/upload", {"file": report, **fields}, format="multipart")

    def test_a_member_uploads_a_report_for_an_asset(self):
        response = self.upload(self.member, format="flat")
        self.assertEqual(response.status_code, 201, response.content)
        session = ScanSession.objects.get(pk=response.json()["scan_id"])
        self.assertEqual((session.trigger, session.created_by), ("upload", self.member))

    @override_settings(INGEST_ASYNC_THRESHOLD_BYTES=1024)
    def test_a_large_upload_is_followed_on_the_management_api(self):
        client = APIClient()
        client.force_login(self.member)
        report = json.dumps(flat_report(*["medium"] * 30)).encode()
        upload = {"file": SimpleUploadedFile("big.json", report), "format": "flat"}
        with self.captureOnCommitCallbacks(execute=False) as jobs:
            response = client.post("/api/v1/ingest/upload", upload, format="multipart")
        self.assertEqual(response.status_code, 202, response.content)
        status_url = response.json()["status_url"]
        self.assertEqual(status_url, f"/api/v1/ingest/{response.json()['ingest_id']}")
        self.assertEqual(client.get(status_url).status_code, 202)  # still queued
        for job in jobs:
            job()
        viewer = APIClient()
        viewer.force_login(self.viewer)
        done = viewer.get(status_url)
        self.assertEqual(done.status_code, 201, done.content)
        self.assertEqual(done.json()["findings_created"], 30)

    def test_a_viewer_may_not_upload(self):
        self.assertEqual(self.upload(self.viewer).status_code, 403)

    def test_a_file_is_required(self):
        client = APIClient()
        client.force_login(self.member)
        response = client.post("/api/v1/ingest/upload", {}, format="multipart")
        self.assertEqual(response.status_code, 400)
        self.assertIn("file", response.json()["error"]["message"])
