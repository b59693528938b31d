"""What an agent built on the reference SDK sends (docs/wire-protocol.md), taken as sent:
compressed bodies on every call, chunk fragments as the SDK shapes them, chunks up to
10 MB, RIS without `tool`, severity words outside the vocabulary."""

from __future__ import annotations

import base64
import gzip
import json

import zstandard
from django.test import TestCase, override_settings

from agents.models import Agent, Command
from agents.queue import command_enqueue, lease_commands
from agents.services import agent_create
from findings.models import Asset, Finding
from ingest.api.views import CHUNK_MAX_BYTES
from ingest.models import IngestChunk
from tests.agents.test_agent_auth import HEARTBEAT, POLL, bearer
from tests.factories import ScanSessionFactory, TenantFactory
from tests.ingest.test_asset_identity import flat, ris, sarif

INGEST = "/api/v1/agent/ingest"
ENCODINGS = ("gzip", "zstd")


def compress(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


class AgentCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="sdk-agent")

    def send(self, path: str, body, encoding: str = "", query: str = "", **headers):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if encoding:
            headers["HTTP_CONTENT_ENCODING"] = encoding
        return bearer(self.key).post(
            f"{path}{'?' if query else ''}{query}",
            data=compress(data, encoding),
            content_type="application/json",
            **headers,
        )

    def assert_error(self, response, status: int, code: str, mentions: str = ""):
        self.assertEqual(response.status_code, status, response.content[:500])
        self.assertEqual(response["Content-Type"], "application/json")
        error = response.json()["error"]
        self.assertEqual(error["code"], code)
        self.assertIn(mentions, error["message"])


class EveryAgentEndpointTakesCompressedBodies(AgentCase):
    def leased(self) -> Command:
        command_enqueue(tenant=self.tenant, type="scan")
        (command,) = lease_commands(agent=self.agent, limit=1)
        return command

    def test_the_heartbeat_reads_a_compressed_body(self):
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                body = {"status": "running", "hostname": f"host-{encoding}", "scanners": ["x"]}
                response = self.send(HEARTBEAT, body, encoding)
                self.assertEqual(response.status_code, 200, response.content)
                self.assertEqual(Agent.objects.get(pk=self.agent.pk).hostname, f"host-{encoding}")

    def test_every_command_lifecycle_call_reads_a_compressed_body(self):
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                command = self.leased()
                url = f"{POLL}/{command.pk}"
                for action in ("acknowledge", "ack", "start"):
                    response = self.send(f"{url}/{action}", {}, encoding)
                    self.assertEqual(response.status_code, 200, (action, response.content))
                progress = {"percent": 40, "message": f"half way ({encoding})"}
                self.assertEqual(self.send(f"{url}/progress", progress, encoding).status_code, 200)
                command.refresh_from_db()
                self.assertEqual(
                    (command.progress, command.progress_message), (40, f"half way ({encoding})")
                )
                result = {"result": {"exit_code": 0, "findings_count": 3}}
                self.assertEqual(self.send(f"{url}/complete", result, encoding).status_code, 200)
                command.refresh_from_db()
                self.assertEqual(
                    (command.status, command.result["findings_count"]), ("completed", 3)
                )

                failing = self.leased()
                self.send(f"{POLL}/{failing.pk}/acknowledge", {}, encoding)
                failed = self.send(f"{POLL}/{failing.pk}/fail", {"error_message": "boom"}, encoding)
                self.assertEqual(failed.status_code, 200, failed.content)
                failing.refresh_from_db()
                self.assertEqual(failing.error_message, "boom")

    def test_every_report_endpoint_reads_a_compressed_body(self):
        reports = {
            INGEST: flat("flat-rule"),
            f"{INGEST}/ris": ris("ris-rule"),
            f"{INGEST}/sarif": sarif("sarif-rule"),
        }
        for encoding in ENCODINGS:
            for path, report in reports.items():
                with self.subTest(encoding=encoding, path=path):
                    query = f"asset=github.com/acme/{encoding}"
                    response = self.send(path, report, encoding, query=query)
                    self.assertEqual(response.status_code, 201, response.content)
                    self.assertEqual(response.json()["findings_created"], 1)
        self.assertEqual(Finding.objects.for_tenant(self.tenant).count(), 6)

    def test_the_fingerprint_check_reads_a_compressed_body(self):
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                asked = {"fingerprints": ["a" * 64, "b" * 64]}
                response = self.send(f"{INGEST}/check", asked, encoding)
                self.assertEqual(response.status_code, 200, response.content)
                self.assertEqual(response.json()["missing"], ["a" * 64, "b" * 64])

    def test_the_chunk_endpoint_reads_a_compressed_body(self):
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                fragment = base64.b64encode(json.dumps(ris("chunk-rule")).encode()).decode()
                chunk = {
                    "report_id": f"r-{encoding}",
                    "chunk_index": 0,
                    "total_chunks": 1,
                    "data": fragment,
                    "is_final": True,
                }
                response = self.send(
                    f"{INGEST}/chunk", chunk, encoding, query=f"asset=github.com/acme/c-{encoding}"
                )
                self.assertEqual(response.status_code, 201, response.content)
                self.assertEqual(response.json()["findings_created"], 1)

    def test_an_unknown_or_corrupt_encoding_is_refused_in_the_error_shape(self):
        self.assert_error(
            self.send(HEARTBEAT, b"{}", HTTP_CONTENT_ENCODING="br"), 415, "UNSUPPORTED_MEDIA_TYPE"
        )
        command = self.leased()
        self.assert_error(
            self.send(f"{POLL}/{command.pk}/progress", b"not zstd", HTTP_CONTENT_ENCODING="zstd"),
            400,
            "INVALID_BODY",
            "zstd",
        )
        self.assert_error(self.send(HEARTBEAT, b'{"status": ', "gzip"), 400, "INVALID_BODY", "JSON")

    @override_settings(DEBUG=True)
    def test_bodies_past_djangos_2_5_MB_are_read_and_past_the_limit_refused_as_json(self):
        command = self.leased()
        padded = {"percent": 10, "padding": "x" * (3 << 20)}  # unknown fields are ignored
        response = self.send(f"{POLL}/{command.pk}/progress", padded)
        self.assertEqual(response.status_code, 200, response.content[:300])
        with self.settings(AGENT_MESSAGE_MAX_BYTES=1 << 20):
            self.assert_error(
                self.send(f"{POLL}/{command.pk}/progress", padded, "gzip"),
                413,
                "PAYLOAD_TOO_LARGE",
            )


class Chunks(AgentCase):
    def chunk(self, report_id: str, index: int, total: int, fragment, **fields):
        data = fragment if isinstance(fragment, bytes) else json.dumps(fragment).encode()
        packed = compress(data, fields.get("compression", ""))
        body = {
            "report_id": report_id,
            "chunk_index": index,
            "total_chunks": total,
            "data": base64.b64encode(packed).decode(),
            "is_final": index == total - 1,
            **fields,
        }
        return self.send(f"{INGEST}/chunk", body)

    def test_sdk_fragments_without_version_are_merged_into_one_report(self):
        # pkg/chunk ChunkData: the envelope repeated inside, tool and metadata only in
        # the first chunk, no `version` anywhere.
        repo = {"id": "repo", "type": "repository", "value": "github.com/acme/shop"}
        whole = ris("a", "b", "c")
        for finding in whole["findings"]:
            finding["asset_ref"] = "repo"
        fragments = [
            {
                "report_id": "scan-7",
                "chunk_index": 0,
                "total_chunks": 2,
                "tool": {"name": "semgrep", "version": "1.85.0"},
                "metadata": {"timestamp": "2026-11-26T12:00:00Z", "coverage_type": "full"},
                "assets": [repo],
                "findings": whole["findings"][:2],
                "is_final": False,
            },
            {
                "report_id": "scan-7",
                "chunk_index": 1,
                "total_chunks": 2,
                "findings": whole["findings"][2:],
                "is_final": True,
            },
        ]
        self.assertEqual(
            self.chunk("scan-7", 0, 2, fragments[0], compression="zstd").status_code, 202
        )
        done = self.chunk("scan-7", 1, 2, fragments[1], compression="zstd")
        self.assertEqual(done.status_code, 201, done.content)
        self.assertEqual((done.json()["findings_created"], done.json()["errors"]), (3, []))
        stored = Finding.objects.for_tenant(self.tenant)
        self.assertEqual({f.asset.identifier for f in stored}, {"github.com/acme/shop"})
        self.assertEqual({f.tool_name for f in stored}, {"semgrep"})
        self.assertFalse(IngestChunk.objects.exists())

    def test_an_asset_id_repeated_across_fragments_is_one_asset(self):
        repo = {"id": "repo", "type": "repository", "value": "github.com/acme/shop"}
        other = {"id": "img", "type": "container", "value": "nginx:1.25"}
        first = ris("a", "b", assets=[repo])
        second = {
            "assets": [{**repo, "name": "Shop"}, other],
            "findings": ris("c", "d")["findings"],
        }
        for finding in first["findings"] + second["findings"][:1]:
            finding["asset_ref"] = "repo"
        second["findings"][1]["asset_ref"] = "img"
        self.chunk("r", 0, 2, first)
        done = self.chunk("r", 1, 2, second)
        self.assertEqual(done.status_code, 201, done.content)
        self.assertEqual((done.json()["assets_created"], done.json()["findings_created"]), (2, 4))
        shop = Asset.objects.for_tenant(self.tenant).get(identifier="github.com/acme/shop")
        self.assertEqual(shop.findings.count(), 3)
        self.assertEqual(shop.name, "Shop")  # what a later copy adds is kept

    def test_flat_fragments_repeating_their_targets_keep_their_findings_on_them(self):
        shop = {"type": "repository", "identifier": "github.com/acme/shop"}
        api = {"type": "repository", "identifier": "github.com/acme/api"}
        first = flat("a", targets=[shop, api])
        first["findings"][0]["target_index"] = 1  # api
        second = flat("b", "c", targets=[api])  # its own list: index 0 is api
        third = {"findings": flat("d")["findings"]}  # no targets: indices of those before
        third["findings"][0]["target_index"] = 0  # shop
        for index, fragment in enumerate((first, second, third)):
            response = self.chunk("flat-1", index, 3, fragment, format="flat")
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["assets_created"], 2)
        where = {f.rule_id: f.asset.identifier for f in Finding.objects.for_tenant(self.tenant)}
        self.assertEqual(
            where,
            {
                "a": "github.com/acme/api",
                "b": "github.com/acme/api",
                "c": "github.com/acme/api",
                "d": "github.com/acme/shop",
            },
        )

    def test_a_9_MB_chunk_is_taken(self):
        report = ris(
            *(f"rule-{n}" for n in range(90)),
            assets=[{"id": "repo", "type": "repository", "value": "github.com/acme/shop"}],
        )
        for n, finding in enumerate(report["findings"]):
            finding["asset_ref"] = "repo"
            finding["description"] = f"{n:05d}" + "d" * 99_990  # 100 KB each
        raw = json.dumps(report).encode()
        self.assertGreater(len(raw), 9_000_000)
        response = self.chunk("big", 0, 1, raw)  # 12 MB of JSON once in base64
        self.assertEqual(response.status_code, 201, response.content[:300])
        self.assertEqual(response.json()["findings_created"], 90)

    @override_settings(DEBUG=True)
    def test_a_chunk_over_10_MB_is_a_413_in_the_error_shape_even_under_debug(self):
        over = b"x" * (CHUNK_MAX_BYTES + 1)
        self.assert_error(self.chunk("big", 0, 2, over), 413, "PAYLOAD_TOO_LARGE", "chunk")
        # A small chunk that inflates past the limit is cut off while decoding.
        bomb = self.chunk("big", 0, 2, over, compression="gzip")
        self.assert_error(bomb, 413, "PAYLOAD_TOO_LARGE", "10 MB")
        # And a request body past what any 10 MB chunk needs is not even read whole.
        body = json.dumps({"report_id": "big", "data": "A" * (15 << 20)}).encode()
        self.assert_error(self.send(f"{INGEST}/chunk", body), 413, "PAYLOAD_TOO_LARGE")
        self.assertFalse(IngestChunk.objects.exists())

    @override_settings(INGEST_MAX_BYTES=64 * 1024)
    def test_chunks_adding_up_past_the_report_limit_are_refused_as_they_come(self):
        part = b"y" * (40 * 1024)
        self.assertEqual(self.chunk("sum", 0, 3, part).status_code, 202)
        self.assert_error(self.chunk("sum", 1, 3, part), 413, "PAYLOAD_TOO_LARGE")
        self.assertEqual(IngestChunk.objects.count(), 1)


class ReportsAsTheSdkWritesThem(AgentCase):
    def test_an_unknown_severity_word_is_stored_as_medium_and_said(self):
        report = flat("a", "b", targets=[{"type": "repository", "identifier": "github.com/a/b"}])
        report["findings"][1]["severity"] = "Urgent"
        response = self.send(INGEST, report)
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(
            response.json()["errors"],
            ["findings[1].severity: unknown word 'Urgent', stored as medium"],
        )
        stored = Finding.objects.for_tenant(self.tenant).get(rule_id="b")
        self.assertEqual(
            (stored.severity, stored.metadata["original_severity"]), ("medium", "Urgent")
        )
        self.assertEqual(Finding.objects.for_tenant(self.tenant).get(rule_id="a").severity, "high")

    def test_in_ris_too_and_many_are_counted_rather_than_listed(self):
        report = ris(
            *(f"r{n}" for n in range(25)),
            assets=[{"id": "x", "type": "repository", "value": "github.com/a/b"}],
        )
        for finding in report["findings"]:
            finding["severity"] = "severe-ish"
        response = self.send(f"{INGEST}/ris", {"report": report})
        self.assertEqual(response.status_code, 201, response.content)
        errors = response.json()["errors"]
        self.assertEqual(len(errors), 21)
        self.assertEqual(
            errors[0], "report.findings[0].severity: unknown word 'severe-ish', stored as medium"
        )
        self.assertEqual(
            errors[-1], "5 more finding(s) had an unknown severity word, stored as medium"
        )
        self.assertEqual(
            set(Finding.objects.for_tenant(self.tenant).values_list("severity", flat=True)),
            {"medium"},
        )

    def test_a_missing_severity_is_still_a_400_naming_it(self):
        report = ris("a")
        del report["findings"][0]["severity"]
        self.assert_error(
            self.send(f"{INGEST}/ris", report), 400, "VALIDATION_ERROR", "findings[0].severity"
        )

    def test_a_ris_report_without_tool_is_taken(self):
        no_tool = ris("a", assets=[{"id": "x", "type": "repository", "value": "github.com/a/b"}])
        del no_tool["tool"]
        response = self.send(f"{INGEST}/ris", no_tool)
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(Finding.objects.for_tenant(self.tenant).get().tool_name, "unknown")

    def test_without_tool_the_sessions_scanner_or_the_metadata_names_it(self):
        session = ScanSessionFactory(tenant=self.tenant, scanner_name="bandit")
        findings_only = {k: v for k, v in ris("b").items() if k not in ("tool", "assets")}
        response = self.send(f"{INGEST}/ris", findings_only, query=f"scan_session={session.pk}")
        self.assertEqual(response.status_code, 201, response.content)
        stored = Finding.objects.for_tenant(self.tenant).get(rule_id="b")
        self.assertEqual(
            (stored.tool_name, stored.asset.identifier), ("bandit", "github.com/org/repo")
        )

        named = ris("c", assets=[{"id": "x", "type": "repository", "value": "github.com/a/b"}])
        del named["tool"]
        named["metadata"]["properties"] = {"tool_name": "gitleaks"}
        self.assertEqual(self.send(f"{INGEST}/ris", named).status_code, 201)
        self.assertEqual(
            Finding.objects.for_tenant(self.tenant).get(rule_id="c").tool_name, "gitleaks"
        )
