from __future__ import annotations

import pytest

from agents.runtime.client import ApiClient, ApiError, Unreachable
from tests.agents.runtime.fakes import FakeServer, free_port

ERROR = {"error": {"code": "X", "message": "nope"}}


def client_for(url: str, sleeps: list[float] | None = None, **options) -> ApiClient:
    recorder = sleeps if sleeps is not None else []
    return ApiClient(url, "rdv_test_key", sleep=recorder.append, **options)


def test_it_retries_on_503_then_succeeds():
    sleeps: list[float] = []
    with FakeServer() as server:
        server.reply("/api/v1/agent/heartbeat", (503, ERROR), (503, ERROR))
        reply = client_for(server.url, sleeps).post(
            "/api/v1/agent/heartbeat", {"status": "running"}
        )
    assert reply.status == 200
    assert len(server.calls("/api/v1/agent/heartbeat")) == 3
    # 2 s × 2^(n−1) plus at most a quarter of jitter.
    assert 2 <= sleeps[0] <= 2.5
    assert 4 <= sleeps[1] <= 5


def test_it_retries_on_429_and_honours_retry_after_within_the_cap():
    sleeps: list[float] = []
    with FakeServer() as server:
        server.reply(
            "/api/v1/agent/heartbeat",
            (429, ERROR, {"Retry-After": "7"}),
            (429, ERROR, {"Retry-After": "600"}),
        )
        client_for(server.url, sleeps, backoff=0.01).post("/api/v1/agent/heartbeat")
    assert len(server.calls("/api/v1/agent/heartbeat")) == 3
    assert sleeps == [7, 30]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 501])
def test_it_never_retries_a_refusal(status):
    sleeps: list[float] = []
    with FakeServer() as server:
        server.reply("/api/v1/agent/ingest/ris", (status, ERROR))
        with pytest.raises(ApiError) as caught:
            client_for(server.url, sleeps).post("/api/v1/agent/ingest/ris", {"version": "1.0"})
    assert caught.value.status == status
    assert caught.value.message == "nope"
    assert len(server.calls("/api/v1/agent/ingest/ris")) == 1
    assert sleeps == []


def test_it_gives_up_after_three_retries_of_a_5xx():
    with FakeServer() as server:
        server.reply("/api/v1/agent/heartbeat", *[(502, ERROR)] * 4)
        with pytest.raises(ApiError) as caught:
            client_for(server.url).post("/api/v1/agent/heartbeat")
    assert caught.value.retryable
    assert len(server.calls()) == 4


def test_an_unreachable_server_is_retried_then_reported():
    sleeps: list[float] = []
    client = client_for(f"http://127.0.0.1:{free_port()}", sleeps, backoff=0.01)
    with pytest.raises(Unreachable, match="refused"):
        client.post("/api/v1/agent/heartbeat")
    assert len(sleeps) == 3


def test_it_gzips_bodies_over_one_kilobyte_and_sends_the_key():
    big = {"findings": [{"title": f"finding {i}", "severity": "high"} for i in range(100)]}
    with FakeServer() as server:
        client = client_for(server.url)
        client.post("/api/v1/agent/ingest/ris", big)
        client.post("/api/v1/agent/heartbeat", {"status": "running"})
    large, small = server.calls()
    assert large.headers["content-encoding"] == "gzip"
    assert len(large.raw) < len(str(big))
    assert large.body == big
    assert "content-encoding" not in small.headers
    assert small.headers["authorization"] == "Bearer rdv_test_key"
    assert small.headers["user-agent"].startswith("rediverio-agent/")
    assert small.headers["content-type"] == "application/json"
