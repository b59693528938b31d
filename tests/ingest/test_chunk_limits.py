"""Reports sent in chunks hold to their limits (ingest/chunks.py): a report id is one set
of `total_chunks`, sets are bounded per report, per agent and per team, sizes are counted
from a column, incomplete sets expire, and a set is assembled one chunk at a time."""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from agents.services import agent_create
from findings.models import Finding
from ingest.chunks import assemble
from ingest.models import Ingest, IngestChunk
from ingest.tasks import expire_chunk_sets
from tests.ingest.test_asset_identity import flat
from tests.ingest.test_wire_protocol import Chunks

REPORT = flat("a", "b", "c", targets=[{"type": "repository", "identifier": "github.com/a/b"}])


def thirds(report: dict = REPORT) -> list[bytes]:
    raw = json.dumps(report).encode()
    step = len(raw) // 3 + 1
    return [raw[i : i + step] for i in range(0, len(raw), step)]


class ASetIsOneReport(Chunks):
    def test_a_report_id_cannot_change_its_total_midway(self):
        # The penetration test's case: two chunks of three assembled as a whole report.
        first, second, _ = thirds()
        self.assertEqual(self.chunk("r", 0, 3, first).status_code, 202)
        response = self.chunk("r", 1, 2, second)
        self.assert_error(response, 400, "VALIDATION_ERROR", "announced with 3 chunks")
        self.assertIn("total_chunks", response.json()["error"]["details"])
        self.assertFalse(Finding.objects.exists())
        self.assertEqual(IngestChunk.objects.count(), 1)

    def test_the_set_completes_with_the_total_it_was_announced_with(self):
        for index, part in enumerate(thirds()):
            response = self.chunk("r", index, 3, part)
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["findings_created"], 3)
        self.assertFalse(IngestChunk.objects.exists())

    @override_settings(INGEST_MAX_CHUNKS=2)
    def test_more_chunks_than_the_limit_is_a_400_naming_total_chunks(self):
        response = self.chunk("r", 0, 3, b"{")
        self.assert_error(response, 400, "VALIDATION_ERROR", "at most 2 chunks")
        self.assertIn("total_chunks", response.json()["error"]["details"])

    def test_a_chunk_costs_the_same_queries_however_many_came_before(self):
        def queries_for_chunk(report_id: str, before: int) -> int:
            for index in range(before):
                self.chunk(report_id, index, 50, b"x")
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.chunk(report_id, before, 50, b"x").status_code, 202)
            return len(queries)

        self.assertEqual(queries_for_chunk("few", 1), queries_for_chunk("many", 20))

    def test_the_sizes_are_counted_without_reading_a_chunk(self):
        parts = [b"x" * 1000] * 5
        for index, part in enumerate(parts[:4]):
            self.chunk("r", index, 5, part)
        self.assertEqual(
            list(IngestChunk.objects.values_list("size", flat=True)), [1000, 1000, 1000, 1000]
        )
        with CaptureQueriesContext(connection) as queries:
            self.chunk("r", 3, 5, parts[3])  # sent again: replaces, counts the same
        reading_data = [
            q["sql"]
            for q in queries
            if q["sql"].startswith("SELECT") and '"data"' in q["sql"].split("FROM")[0]
        ]
        self.assertEqual(reading_data, [], "a chunk's data was read to count the set")

    def test_the_gzip_of_50_MB_sent_16_times_stores_nothing(self):
        # The penetration test's chunk attack: each inflates past the chunk's limit
        # and is cut off there (`make bench` measures that the worker's memory stays flat).
        bomb = b"\0" * (50 << 20)
        for n in range(16):
            response = self.chunk(f"attack-{n}", 0, 2, bomb, compression="gzip")
            self.assert_error(response, 413, "PAYLOAD_TOO_LARGE", "chunk")
        self.assertFalse(IngestChunk.objects.exists())


class AgentAndTeamLimits(Chunks):
    @override_settings(INGEST_AGENT_OPEN_REPORTS=2)
    def test_an_agent_may_have_only_so_many_reports_half_sent(self):
        self.assertEqual(self.chunk("one", 0, 2, b"{").status_code, 202)
        self.assertEqual(self.chunk("two", 0, 2, b"{").status_code, 202)
        response = self.chunk("three", 0, 2, b"{")
        self.assert_error(response, 429, "RATE_LIMITED", "half sent")
        self.assertEqual(response["Retry-After"], "60")
        self.assertEqual(response.json()["error"]["details"]["limit"], "INGEST_AGENT_OPEN_REPORTS")
        # A set already open still takes its chunks.
        self.assertEqual(self.chunk("one", 1, 2, b"}").status_code, 400)  # "{}" is no report

    @override_settings(INGEST_AGENT_PENDING_BYTES=3000)
    def test_an_agent_may_have_only_so_many_bytes_waiting(self):
        self.assertEqual(self.chunk("one", 0, 3, b"x" * 2000).status_code, 202)
        self.assertEqual(self.chunk("two", 0, 3, b"x" * 900).status_code, 202)
        response = self.chunk("three", 0, 3, b"x" * 200)
        self.assert_error(response, 429, "RATE_LIMITED")
        self.assertEqual(response.json()["error"]["details"]["limit"], "INGEST_AGENT_PENDING_BYTES")

    @override_settings(INGEST_TEAM_PENDING_BYTES=5000)
    def test_a_team_counts_the_chunks_of_all_its_agents_and_its_queued_reports(self):
        other, key = agent_create(tenant=self.tenant, name="other")
        Ingest.objects.create(tenant=self.tenant, format="sarif", digest="0" * 64, size_bytes=3000)
        self.assertEqual(self.chunk("one", 0, 2, b"x" * 1500).status_code, 202)
        self.key = key  # the team's second agent
        response = self.chunk("two", 0, 2, b"x" * 1000)
        self.assert_error(response, 429, "RATE_LIMITED", "team")
        self.assertEqual(response.json()["error"]["details"]["limit"], "INGEST_TEAM_PENDING_BYTES")

    @override_settings(INGEST_TEAM_PENDING_BYTES=5000, INGEST_ASYNC_THRESHOLD_BYTES=1024)
    def test_a_report_for_the_background_job_counts_against_the_team_too(self):
        Ingest.objects.create(tenant=self.tenant, format="sarif", digest="0" * 64, size_bytes=4000)
        padded = {**REPORT, "metadata": {"tool_name": "semgrep", "pad": "p" * 2000}}
        response = self.send("/api/v1/agent/ingest", padded)
        self.assert_error(response, 429, "RATE_LIMITED", "team")


class IncompleteSetsExpire(Chunks):
    def test_sets_begun_before_the_ttl_are_deleted_and_recent_ones_kept(self):
        self.chunk("old", 0, 2, b"{")
        self.chunk("new", 0, 2, b"{")
        IngestChunk.objects.filter(report_id="old").update(
            created_at=timezone.now() - timedelta(hours=7)
        )
        self.assertEqual(expire_chunk_sets(), {"chunks_expired": 1})
        self.assertEqual(list(IngestChunk.objects.values_list("report_id", flat=True)), ["new"])

    @override_settings(INGEST_CHUNK_TTL_SECONDS=60)
    def test_the_ttl_is_a_setting(self):
        self.chunk("r", 0, 2, b"{")
        IngestChunk.objects.update(created_at=timezone.now() - timedelta(seconds=61))
        self.assertEqual(expire_chunk_sets(), {"chunks_expired": 1})

    def test_the_expiry_is_scheduled_by_a_migration(self):
        schedule = Schedule.objects.get(name="ingest-chunks-expire")
        self.assertEqual(schedule.func, "ingest.tasks.expire_chunk_sets")
        self.assertEqual(schedule.minutes, 10)


class AssemblyReadsOneChunkAtATime(TestCase):
    def test_fragments_are_read_once_and_slices_twice_one_at_a_time(self):
        alive: list[int] = []
        most_alive: list[int] = [0]

        def parts(items):
            def read():
                for item in items:
                    alive.append(1)
                    most_alive[0] = max(most_alive[0], len(alive))
                    try:
                        yield item
                    finally:
                        alive.pop()

            return read

        fragments = [json.dumps(flat("a")).encode(), json.dumps(flat("b")).encode()]
        merged = json.loads(assemble(parts(fragments)))
        self.assertEqual(len(merged["findings"]), 2)
        whole = json.dumps(REPORT).encode()
        self.assertEqual(assemble(parts(thirds())), whole)
        self.assertEqual(alive, [])
        self.assertEqual(most_alive, [1])  # a chunk is let go before the next is read

    def test_a_dense_fragment_is_refused_before_it_is_decoded(self):
        from protocol.limits import LimitExceeded

        dense = b'{"findings":[' + b",".join([b"{}"] * 3_000_000) + b"]}"
        with self.assertRaises(LimitExceeded):
            assemble([dense])
