"""What one report may cost (protocol/limits.py, README: Security): a document far denser
than any scanner writes is refused before it is decoded; a report holding more findings,
assets or packages than the limits is refused while it is read; bodies are refused from
their declared size before they are read. Every refusal is a 413 in the error shape, and
nothing of a refused report is stored."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from findings.models import Asset, AssetDependency, Finding
from ingest.models import Ingest
from ingest.parsers import flat as flat_parser
from ingest.tasks import process_ingest
from protocol.limits import MEMORY_FACTOR, LimitExceeded, check_decoding_cost, decoding_cost
from tests.agents.test_agent_auth import HEARTBEAT
from tests.factories import MembershipFactory
from tests.ingest.test_asset_identity import flat
from tests.ingest.test_wire_protocol import INGEST, AgentCase
from tests.shared_data import DATA, data_file

UPLOAD = "/api/v1/ingest/upload"


def empty_findings(megabytes: float) -> bytes:
    """The penetration test's amplification body: a report of empty finding objects."""
    count = int(megabytes * 1e6 // 3)
    return b'{"version":"1.0","findings":[' + b",".join([b"{}"] * count) + b"]}"


def many(count: int, **report) -> dict:
    return {**flat(*(f"rule-{i}" for i in range(count))), **report}


@pytest.mark.parametrize(
    "path", sorted(p for p in DATA.rglob("*") if p.is_file() and p.suffix != ".md"), ids=str
)
def test_every_real_report_is_far_below_the_limit(path: Path):
    raw = path.read_bytes()
    assert decoding_cost(raw) <= MEMORY_FACTOR * max(len(raw), 4096)


@pytest.mark.parametrize("unit", [b"{}", b"[]", b"[[[[]]]]", b'"ab"', b'{"a":"bc"}'], ids=repr)
def test_dense_shapes_are_refused_before_decoding(unit: bytes):
    raw = b"[" + b",".join([unit] * (8_000_000 // len(unit))) + b"]"
    with pytest.raises(LimitExceeded) as refused:
        check_decoding_cost(raw)
    assert refused.value.limit == "INGEST_MEMORY_FACTOR"


def test_xml_is_estimated_by_its_elements():
    raw = b"<bom>" + b"<a/>" * 2_000_000 + b"</bom>"
    with pytest.raises(LimitExceeded):
        check_decoding_cost(raw)
    check_decoding_cost(data_file("cyclonedx/log4j.xml").read_bytes())


class ReportLimitsOnTheAgentEndpoints(AgentCase):
    def assert_nothing_stored(self):
        self.assertFalse(Finding.objects.for_tenant(self.tenant).exists())
        self.assertFalse(Asset.objects.for_tenant(self.tenant).exists())

    def test_the_19_KB_amplification_body_is_a_413_before_it_is_decoded(self):
        raw = empty_findings(19)
        self.assertLess(len(gzip.compress(raw)), 40_000)
        response = self.send(f"{INGEST}/ris", raw, "gzip")
        self.assert_error(response, 413, "PAYLOAD_TOO_LARGE", "too dense")
        self.assertEqual(response.json()["error"]["details"]["limit"], "INGEST_MEMORY_FACTOR")
        self.assert_nothing_stored()

    @override_settings(INGEST_ASYNC_THRESHOLD_BYTES=1024)
    def test_a_dense_report_is_refused_before_it_is_queued_for_the_background_job(self):
        response = self.send(f"{INGEST}/ris", empty_findings(19), "gzip")
        self.assert_error(response, 413, "PAYLOAD_TOO_LARGE")
        self.assertFalse(Ingest.objects.exists())

    @override_settings(INGEST_MAX_FINDINGS=5)
    def test_more_findings_than_the_limit_is_a_413_naming_it_and_stores_nothing(self):
        self.assertEqual(self.send(INGEST, many(5), query="asset=a.example").status_code, 201)
        Finding.objects.all().delete()
        Asset.objects.all().delete()
        response = self.send(INGEST, many(6), query="asset=a.example")
        self.assert_error(response, 413, "PAYLOAD_TOO_LARGE", "more than 5 findings")
        self.assertEqual(
            response.json()["error"]["details"], {"limit": "INGEST_MAX_FINDINGS", "limit_value": 5}
        )
        self.assert_nothing_stored()

    @override_settings(INGEST_MAX_ASSETS=2)
    def test_more_assets_than_the_limit_is_a_413(self):
        targets = [{"type": "domain", "identifier": f"h{i}.example"} for i in range(3)]
        response = self.send(INGEST, flat("r", targets=targets))
        self.assert_error(response, 413, "PAYLOAD_TOO_LARGE", "more than 2 assets")
        self.assert_nothing_stored()

    @override_settings(INGEST_MAX_DEPENDENCIES=1)
    def test_more_packages_than_the_limit_is_a_413(self):
        report = {
            **flat("r"),
            "dependencies": [{"name": f"p{i}", "version": "1"} for i in range(2)],
        }
        response = self.send(INGEST, report, query="asset=github.com/acme/shop")
        self.assert_error(response, 413, "PAYLOAD_TOO_LARGE", "more than 1 dependencies")
        self.assertFalse(AssetDependency.objects.exists())

    @override_settings(INGEST_MAX_FINDINGS=3, INGEST_ASYNC_THRESHOLD_BYTES=1024)
    def test_a_background_ingest_over_a_limit_fails_and_its_status_is_that_413(self):
        padded = {**many(4), "metadata": {"tool_name": "semgrep", "pad": "x" * 2048}}
        response = self.send(INGEST, padded, query="asset=a.example")
        self.assertEqual(response.status_code, 202, response.content)
        ingest = Ingest.objects.get()
        self.assertEqual(process_ingest(str(ingest.pk)), "failed")
        self.assert_error(
            self.send_get(f"{INGEST}/{ingest.pk}"), 413, "PAYLOAD_TOO_LARGE", "more than 3"
        )
        self.assert_nothing_stored()

    def send_get(self, path: str):
        from tests.agents.test_agent_auth import bearer

        return bearer(self.key).get(path)

    def test_the_agent_program_reads_without_limits(self):
        with self.settings(INGEST_MAX_FINDINGS=1):
            report = flat_parser.parse(json.dumps(many(3)).encode())
        self.assertEqual(len(report.findings), 3)


class BodiesAreRefusedFromTheirDeclaredSize(AgentCase):
    @override_settings(INGEST_MAX_BYTES=4096)
    def test_a_report_declaring_more_than_the_limit_is_refused_unread(self):
        # The body is 2 bytes: a 413 proves the declared size alone decided.
        response = self.send(INGEST, b"{}", CONTENT_LENGTH="5000")
        self.assert_error(response, 413, "PAYLOAD_TOO_LARGE")

    @override_settings(AGENT_MESSAGE_MAX_BYTES=4096)
    def test_an_agent_message_declaring_more_than_its_limit_is_refused_unread(self):
        response = self.send(HEARTBEAT, b"{}", CONTENT_LENGTH="5000")
        self.assert_error(response, 413, "PAYLOAD_TOO_LARGE", "message")

    def test_a_dense_agent_message_is_refused_before_it_is_decoded(self):
        body = b'{"status":"online","x":[' + b",".join([b"[]"] * 2_000_000) + b"]}"
        self.assert_error(self.send(HEARTBEAT, body, "gzip"), 413, "PAYLOAD_TOO_LARGE")


class UploadsAreRefusedBeforeTheyAreKept(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.member = MembershipFactory(role="member").user

    def client_(self) -> APIClient:
        client = APIClient()
        client.force_login(self.member)
        return client

    @override_settings(INGEST_MAX_BYTES=1024)
    def test_an_upload_declaring_more_than_the_limit_is_a_413_before_its_parts_are_read(self):
        file = SimpleUploadedFile("r.json", b"{}")
        response = self.client_().post(
            UPLOAD, {"file": file}, format="multipart", CONTENT_LENGTH=str(10 << 30)
        )
        self.assertEqual(response.status_code, 413, response.content[:300])
        self.assertEqual(response.json()["error"]["code"], "PAYLOAD_TOO_LARGE")

    @override_settings(INGEST_MAX_BYTES=100 * 1024, FILE_UPLOAD_MAX_MEMORY_SIZE=1024)
    def test_a_file_past_the_limit_is_stopped_while_it_streams(self):
        # Within the declared allowance for form fields, past the limit for the file:
        # Django would write it to a temporary file; the upload stops at the limit.
        file = SimpleUploadedFile("r.json", b" " * (130 * 1024))
        response = self.client_().post(UPLOAD, {"file": file}, format="multipart")
        self.assertEqual(response.status_code, 413, response.content[:300])
        self.assertEqual(response.json()["error"]["code"], "PAYLOAD_TOO_LARGE")

    @override_settings(INGEST_MAX_FINDINGS=2)
    def test_an_upload_over_a_count_limit_is_a_413(self):
        raw = json.dumps(many(3)).encode()
        file = SimpleUploadedFile("r.json", raw)
        response = self.client_().post(
            UPLOAD, {"file": file, "asset": "a.example"}, format="multipart"
        )
        self.assertEqual(response.status_code, 413, response.content[:300])
        self.assertFalse(Finding.objects.exists())


def test_by_default_a_100_000_result_sarif_report_of_about_70_MB_fits():
    from rediverio import settings as defaults

    assert defaults.INGEST_MAX_BYTES >= 70 * 1024 * 1024
