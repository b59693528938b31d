from __future__ import annotations

import base64
import gzip
import json

import pytest

from agents.runtime.client import ApiClient, ApiError
from agents.runtime.delivery import INGEST_CHUNK, INGEST_RIS, ChunkLimits, Delivery, Spool
from ingest.chunks import assemble
from ingest.parsers import ris
from tests.agents.runtime.fakes import FakeServer, free_port

ERROR = {"error": {"code": "X", "message": "no"}}


def report(findings: int, assets: int = 1) -> dict:
    return {
        "version": "1.0",
        "metadata": {"timestamp": "2026-01-01T00:00:00Z", "id": "scan-1"},
        "tool": {"name": "bandit"},
        "assets": [
            {"id": f"asset-{i}", "type": "repository", "value": f"github.com/acme/r{i}"}
            for i in range(assets)
        ],
        "findings": [
            {
                "type": "vulnerability",
                "title": f"finding {i}",
                "severity": "high",
                "rule_id": "B602",
                "asset_ref": "asset-0",
                "location": {"path": "app.py", "start_line": i + 1},
            }
            for i in range(findings)
        ],
        "dependencies": [{"name": "pyyaml", "version": "5.3"}],
    }


def delivery_to(url: str, tmp_path, **limits) -> Delivery:
    client = ApiClient(url, "rdv_key", sleep=lambda s: None)
    return Delivery(client, Spool(tmp_path / "spool"), ChunkLimits(**limits))


def test_a_small_report_is_posted_whole(tmp_path):
    with FakeServer() as server:
        delivered = delivery_to(server.url, tmp_path).send_report(report(3))
    assert not delivered.spooled
    assert delivered.reply["findings_created"] == 3
    assert [c.path for c in server.calls()] == [INGEST_RIS]


def test_a_report_over_the_threshold_goes_in_chunks_the_server_can_merge(tmp_path):
    document = report(12, assets=3)
    with FakeServer() as server:
        delivery = delivery_to(
            server.url, tmp_path, over_findings=10, findings_per_chunk=5, assets_per_chunk=2
        )
        delivered = delivery.send_report(document)
    chunks = [c.body for c in server.calls(INGEST_CHUNK)]
    assert not delivered.spooled
    assert [c["chunk_index"] for c in chunks] == [0, 1, 2, 3]
    assert {c["total_chunks"] for c in chunks} == {4}
    assert [c["is_final"] for c in chunks] == [False, False, False, True]
    assert len({c["report_id"] for c in chunks}) == 1
    assert {c["compression"] for c in chunks} == {"gzip"}
    parts = [gzip.decompress(base64.b64decode(c["data"])) for c in chunks]
    fragments = [json.loads(p) for p in parts]
    assert all(len(f["findings"]) <= 5 and len(f["assets"]) <= 2 for f in fragments)
    assert "metadata" in fragments[0] and "metadata" not in fragments[1]
    merged = json.loads(assemble(parts))
    assert merged == document
    assert len(ris.parse(assemble(parts)).findings) == 12


def test_a_report_over_the_byte_threshold_goes_in_chunks_too(tmp_path):
    with FakeServer() as server:
        delivery_to(server.url, tmp_path, over_bytes=2000, bytes_per_chunk=1500).send_report(
            report(20)
        )
    assert len(server.calls(INGEST_CHUNK)) > 1
    assert not server.calls(INGEST_RIS)


def test_a_report_is_spooled_while_the_server_is_down_and_sent_after_a_restart(tmp_path):
    port = free_port()
    down = delivery_to(f"http://127.0.0.1:{port}", tmp_path)
    first = down.send_report(report(2))
    second = down.send_report(report(3))
    assert first.spooled and second.spooled
    assert len(down.spool.entries()) == 2

    # A new agent process: a new client that only knows the spool directory.
    with FakeServer(port) as server:
        flushed = delivery_to(server.url, tmp_path).flush()
    assert (flushed.sent, flushed.remaining) == (2, 0)
    sent = [c.body for c in server.calls(INGEST_RIS)]
    assert [len(b["findings"]) for b in sent] == [2, 3]  # oldest first
    assert list((tmp_path / "spool").glob("*.json")) == []


def test_a_report_the_server_keeps_refusing_with_503_is_spooled(tmp_path):
    with FakeServer() as server:
        server.reply(INGEST_RIS, *[(503, ERROR)] * 4)
        delivered = delivery_to(server.url, tmp_path).send_report(report(1))
    assert delivered.spooled
    assert json.loads(delivered.spool_file.read_text())["document"]["findings"]


def test_a_refused_report_is_an_error_not_a_spool_entry(tmp_path):
    with FakeServer() as server:
        server.reply(INGEST_RIS, (400, ERROR))
        with pytest.raises(ApiError):
            delivery_to(server.url, tmp_path).send_report(report(1))
    assert not (tmp_path / "spool").exists()


def test_a_spooled_report_the_server_then_refuses_is_set_aside_with_the_reason(tmp_path):
    delivery_to(f"http://127.0.0.1:{free_port()}", tmp_path).send_report(report(1))
    with FakeServer() as server:
        server.reply(INGEST_RIS, (400, ERROR))
        flushed = delivery_to(server.url, tmp_path).flush()
    assert (flushed.sent, flushed.rejected) == (0, 1)
    (kept,) = (tmp_path / "spool" / "rejected").glob("*.json")
    assert "400" in json.loads(kept.read_text())["rejected_because"]


def test_a_flush_stops_at_the_first_failure_and_keeps_the_rest(tmp_path):
    down = delivery_to(f"http://127.0.0.1:{free_port()}", tmp_path)
    for n in (1, 2, 3):
        down.send_report(report(n))
    with FakeServer() as server:
        server.reply(INGEST_RIS, (201, {}), *[(503, ERROR)] * 4)
        flushed = delivery_to(server.url, tmp_path).flush()
    assert (flushed.sent, flushed.remaining) == (1, 2)
    assert len(Spool(tmp_path / "spool").entries()) == 2


def test_a_deferred_lifecycle_call_follows_the_spooled_report(tmp_path):
    down = delivery_to(f"http://127.0.0.1:{free_port()}", tmp_path)
    assert down.send_report(report(1)).spooled
    down.send_call("/api/v1/agent/commands/c1/complete", {"result": {}}, defer=True)
    with FakeServer() as server:
        delivery_to(server.url, tmp_path).flush()
    assert [c.path for c in server.calls()] == [INGEST_RIS, "/api/v1/agent/commands/c1/complete"]
