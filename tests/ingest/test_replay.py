"""Replays: a retry of a delivery already received is answered, not stored again; every
other report is processed, so what the product shows (last seen, run history) moves.

Invariant: one delivery is stored once — the same `Idempotency-Key`, or, without a
key, the same agent sending the same bytes for the same session and asset within
INGEST_REPLAY_WINDOW_SECONDS — and anything else received is stored."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import timedelta
from unittest import mock

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from agents.runtime.client import ApiClient, Reply
from agents.runtime.delivery import ChunkLimits, Delivery
from agents.services import agent_create
from findings.models import Finding, FindingSighting
from ingest import services
from ingest.models import Ingest, IngestChunk
from scans.models import ScanSession
from tests.agents.test_agent_auth import bearer
from tests.factories import MembershipFactory, ScanSessionFactory, TenantFactory
from tests.ingest.test_asset_identity import flat, ris, sarif

INGEST = "/api/v1/agent/ingest"
SHOP = {"type": "repository", "identifier": "github.com/acme/shop"}


class ReplayCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="worker")
        cls.other, cls.other_key = agent_create(tenant=cls.tenant, name="other")
        cls.member = MembershipFactory(tenant=cls.tenant, role="member").user

    def post(self, body, key=None, path=INGEST, query="", status=201, **headers):
        response = bearer(key or self.key).post(
            f"{path}{'?' if query else ''}{query}",
            data=json.dumps(body),
            content_type="application/json",
            **headers,
        )
        self.assertEqual(response.status_code, status, response.content)
        return response.json()

    def upload(self, report: dict, status=201, **headers):
        client = APIClient()
        client.force_login(self.member)
        file = SimpleUploadedFile("report.json", json.dumps(report).encode())
        response = client.post(
            "/api/v1/ingest/upload",
            {"file": file, "asset": "github.com/acme/shop"},
            format="multipart",
            **headers,
        )
        self.assertEqual(response.status_code, status, response.content)
        return response.json()

    def finding(self, rule: str = "a") -> Finding:
        return Finding.objects.for_tenant(self.tenant).get(rule_id=rule)


class RetriesOfOneDelivery(ReplayCase):
    def test_the_same_agent_resending_the_same_report_for_its_session_is_a_replay(self):
        session = ScanSessionFactory(tenant=self.tenant, status="running")
        report = flat("a", targets=[SHOP])
        first = self.post(report, query=f"scan_session={session.pk}")
        again = self.post(report, query=f"scan_session={session.pk}")
        self.assertEqual((first["replay"], again["replay"]), (False, True))
        self.assertEqual(again["ingest_id"], first["ingest_id"])
        self.assertEqual(Ingest.objects.count(), 1)
        self.assertEqual(self.finding().occurrence_count, 1)
        session.refresh_from_db()
        self.assertEqual(session.findings_total, 1)  # counted once

    def test_the_same_idempotency_key_is_a_replay_whenever_it_comes(self):
        report = flat("a", targets=[SHOP])
        first = self.post(report, HTTP_IDEMPOTENCY_KEY="delivery-1")
        with time_machine.travel(timezone.now() + timedelta(days=2)):  # past any window
            again = self.post(report, HTTP_IDEMPOTENCY_KEY="delivery-1")
        self.assertEqual((again["replay"], again["ingest_id"]), (True, first["ingest_id"]))
        self.assertEqual(self.finding().occurrence_count, 1)
        self.assertEqual(Ingest.objects.get().idempotency_key, "delivery-1")

    @override_settings(INGEST_ASYNC_THRESHOLD_BYTES=1024)
    def test_a_retry_of_a_queued_report_gets_the_same_202(self):
        report = flat(*(f"r{n}" for n in range(30)), targets=[SHOP])
        with self.captureOnCommitCallbacks(execute=False):
            first = self.post(report, status=202)
            again = self.post(report, status=202)
        self.assertEqual((again["replay"], again["ingest_id"]), (True, first["ingest_id"]))
        self.assertEqual(Ingest.objects.count(), 1)

    def test_a_final_chunk_sent_again_after_its_report_was_stored_is_answered(self):
        fragment = base64.b64encode(gzip.compress(json.dumps(ris("a")).encode())).decode()
        chunk = {
            "report_id": "r-1",
            "chunk_index": 0,
            "total_chunks": 1,
            "compression": "gzip",
            "data": fragment,
            "is_final": True,
        }
        headers = {"HTTP_IDEMPOTENCY_KEY": "report-r-1", "query": "asset=github.com/acme/shop"}
        first = self.post(chunk, path=f"{INGEST}/chunk", **headers)
        again = self.post(chunk, path=f"{INGEST}/chunk", **headers)
        self.assertEqual((again["replay"], again["ingest_id"]), (True, first["ingest_id"]))
        self.assertFalse(IngestChunk.objects.exists())  # no orphan waiting for company
        self.assertEqual(self.finding().occurrence_count, 1)

    def test_two_deliveries_racing_with_one_key_store_the_report_once(self):
        report = flat("a", targets=[SHOP])
        first = self.post(report, HTTP_IDEMPOTENCY_KEY="race")
        real = services._earlier_delivery
        calls = []

        def missed_at_first(*args):
            # The second delivery looked before the first committed, so found nothing;
            # the unique key stops its insert, and it answers with the first.
            calls.append(args)
            return None if len(calls) == 1 else real(*args)

        with mock.patch("ingest.services._earlier_delivery", side_effect=missed_at_first):
            again = self.post(report, HTTP_IDEMPOTENCY_KEY="race")
        self.assertEqual(len(calls), 2)
        self.assertEqual((again["replay"], again["ingest_id"]), (True, first["ingest_id"]))
        self.assertEqual(Ingest.objects.count(), 1)
        self.assertEqual(self.finding().occurrence_count, 1)


class EverythingElseIsProcessed(ReplayCase):
    def test_a_person_uploading_the_same_file_twice_gets_it_processed_twice(self):
        report = sarif("a")
        first = self.upload(report)
        seen = self.finding().last_seen_at
        with time_machine.travel(timezone.now() + timedelta(minutes=1)):
            again = self.upload(report)
        self.assertEqual((first["replay"], again["replay"]), (False, False))
        self.assertNotEqual(again["ingest_id"], first["ingest_id"])
        self.assertNotEqual(again["scan_id"], first["scan_id"])
        self.assertEqual(again["findings_updated"], 1)
        finding = self.finding()
        self.assertGreater(finding.last_seen_at, seen)
        self.assertEqual(finding.occurrence_count, 2)
        self.assertEqual(FindingSighting.objects.filter(finding=finding).count(), 2)
        self.assertEqual(ScanSession.objects.for_tenant(self.tenant).count(), 2)

    def test_a_person_may_name_an_upload_with_a_key_to_make_a_retry_safe(self):
        first = self.upload(sarif("a"), HTTP_IDEMPOTENCY_KEY="upload-7")
        again = self.upload(sarif("a"), HTTP_IDEMPOTENCY_KEY="upload-7")
        self.assertEqual((again["replay"], again["ingest_id"]), (True, first["ingest_id"]))
        self.assertEqual(self.finding().occurrence_count, 1)

    def test_the_same_report_from_another_agent_or_for_another_session_is_processed(self):
        report = flat("a", targets=[SHOP])
        self.post(report)
        other_agent = self.post(report, key=self.other_key)
        other_session = self.post(
            report, query=f"scan_session={ScanSessionFactory(tenant=self.tenant).pk}"
        )
        other_asset = self.post(flat("a"), query="asset=github.com/acme/api")
        self.post(flat("a"), query="asset=github.com/acme/web")
        self.assertFalse(any(r["replay"] for r in (other_agent, other_session, other_asset)))
        self.assertEqual(
            Finding.objects.for_tenant(self.tenant)
            .get(asset__identifier="github.com/acme/shop")
            .occurrence_count,
            3,
        )

    def test_the_same_bytes_under_a_new_key_are_a_new_delivery(self):
        report = flat("a", targets=[SHOP])
        self.post(report, HTTP_IDEMPOTENCY_KEY="run-1")
        again = self.post(report, HTTP_IDEMPOTENCY_KEY="run-2")
        self.assertFalse(again["replay"])
        self.assertEqual(self.finding().occurrence_count, 2)

    def test_after_the_window_the_same_report_is_processed_and_last_seen_moves(self):
        report = flat("a", targets=[SHOP])
        self.post(report)
        seen = self.finding().last_seen_at
        with time_machine.travel(timezone.now() + timedelta(seconds=601)):
            again = self.post(report)
        self.assertFalse(again["replay"])
        self.assertGreater(self.finding().last_seen_at, seen)

    def test_a_failed_report_is_never_replayed(self):
        bad = flat("a", targets=[SHOP])
        bad["findings"][0]["start_line"] = "three"
        self.post(bad, status=400)
        self.post(bad, status=400)
        self.assertFalse(Ingest.objects.exists())


class KeysThatDoNotFit(ReplayCase):
    def test_a_key_reused_for_another_report_is_a_409(self):
        self.post(flat("a", targets=[SHOP]), HTTP_IDEMPOTENCY_KEY="k-1")
        reply = self.post(flat("b", targets=[SHOP]), HTTP_IDEMPOTENCY_KEY="k-1", status=409)
        self.assertEqual(reply["error"]["code"], "IDEMPOTENCY_KEY_REUSED")
        self.assertFalse(Finding.objects.filter(rule_id="b").exists())

    def test_another_senders_key_is_a_409_never_their_answer(self):
        self.post(flat("a", targets=[SHOP]), HTTP_IDEMPOTENCY_KEY="k-2")
        reply = self.post(
            flat("a", targets=[SHOP]), key=self.other_key, HTTP_IDEMPOTENCY_KEY="k-2", status=409
        )
        self.assertNotIn("ingest_id", reply)
        self.assertEqual(reply["error"]["code"], "IDEMPOTENCY_KEY_REUSED")

    def test_a_malformed_key_is_a_400_naming_the_header(self):
        for key in ("has spaces", "x" * 256, "naïve"):
            with self.subTest(key=key):
                reply = self.post(flat("a", targets=[SHOP]), HTTP_IDEMPOTENCY_KEY=key, status=400)
                self.assertTrue(reply["error"]["message"].startswith("Idempotency-Key"))
        self.assertFalse(Ingest.objects.exists())


class TheAgentProgram(ReplayCase):
    """The agent's own delivery, its HTTP swapped for the test client: the first reply
    is lost after the server stored the report; the client's retry is a replay."""

    def delivery(self, lose: int = 1, limits: ChunkLimits | None = None) -> tuple[Delivery, list]:
        client = ApiClient("http://testserver", self.key, sleep=lambda _: None)
        django_client = APIClient()
        sent = []

        def once(method, url, data, headers):
            extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
            extra.pop("HTTP_CONTENT_TYPE", None)
            response = django_client.generic(
                method, url, data or b"", content_type="application/json", **extra
            )
            sent.append((url, data, headers))
            if len(sent) <= lose:
                raise ConnectionResetError("the reply was lost")
            return Reply(response.status_code, response.json())

        client._once = once
        return Delivery(client, None, limits), sent

    def test_a_retry_after_a_lost_reply_sends_the_same_delivery_and_is_replayed(self):
        delivery, sent = self.delivery()
        delivered = delivery.send_report(
            ris("a", assets=[{"type": "repository", "value": "github.com/a/b"}])
        )
        (first, second) = sent
        self.assertEqual(first, second)  # same endpoint, bytes and key
        self.assertTrue(first[2]["Idempotency-Key"])
        self.assertTrue(delivered.reply["replay"])
        self.assertEqual(Ingest.objects.count(), 1)
        self.assertEqual(self.finding().occurrence_count, 1)

    def test_each_report_it_sends_is_a_delivery_of_its_own(self):
        delivery, sent = self.delivery(lose=0)
        report = ris("a", assets=[{"type": "repository", "value": "github.com/a/b"}])
        delivery.send_report(report)
        delivery.send_report(report)
        self.assertNotEqual(sent[0][2]["Idempotency-Key"], sent[1][2]["Idempotency-Key"])
        self.assertEqual(self.finding().occurrence_count, 2)

    def test_its_chunks_carry_the_reports_key_and_a_lost_final_reply_is_replayed(self):
        limits = ChunkLimits(over_findings=2, findings_per_chunk=2)
        delivery, sent = self.delivery(lose=0, limits=limits)
        report = ris(
            "a", "b", "c", assets=[{"id": "x", "type": "repository", "value": "github.com/a/b"}]
        )
        for finding in report["findings"]:
            finding["asset_ref"] = "x"
        entry = {
            "kind": "report",
            "endpoint": f"{INGEST}/ris",
            "report_id": "rep-9",
            "document": report,
        }
        delivery._send(entry)
        self.assertEqual({headers["Idempotency-Key"] for _, _, headers in sent}, {"rep-9"})
        self.assertEqual(len(sent), 2)
        again = delivery._send(entry)  # e.g. from the spool, after a lost final reply
        self.assertTrue(again["replay"])
        self.assertFalse(IngestChunk.objects.exists())
        self.assertEqual(Finding.objects.for_tenant(self.tenant).count(), 3)
        self.assertEqual(Ingest.objects.count(), 1)
