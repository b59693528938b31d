"""HTTP to the server, standard library only (the agent adds no dependency).

Behaviour of the reference SDK's client (docs/wire-protocol.md): `Authorization:
Bearer <key>`, JSON bodies, gzip when a body is over 1 KB and shrinks, a 30 s timeout,
and retries on connection errors, 429 and 5xx except 501, never on other 4xx: the
request was understood and refused, and sending it again cannot change that. Backoff is
2 s × 2^(n−1), capped, with jitter so that agents cut off together do not return in
lockstep; a `Retry-After` from the server is honoured within the cap.
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.runtime import USER_AGENT

log = logging.getLogger("rediverio.agent")

COMPRESS_OVER = 1024


class ApiError(Exception):
    """The server answered with an error that a retry cannot fix (or retries ran out on
    one that could: `retryable` tells which)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
    ):
        self.status = status
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(f"HTTP {status} {code}: {message}")


class Unreachable(Exception):
    """The server could not be reached, even after the retries."""


@dataclass(slots=True)
class Reply:
    status: int
    body: Any


def retryable_status(status: int) -> bool:
    return status == 429 or (500 <= status <= 599 and status != 501)


class ApiClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        agent_id: str = "",
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 2.0,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url:
            raise ValueError("no server URL: set API_URL or pass --api-url")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.agent_id = agent_id
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.sleep = sleep

    def get(self, path: str, **query: Any) -> Reply:
        return self.request("GET", path, query=query)

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        retries: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        return self.request("POST", path, body, retries=retries, headers=headers)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        retries: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        # Every attempt sends the same bytes and headers: a retry after a lost reply is
        # then the same delivery, which the server answers without storing it again.
        data, sent = self._encode(body)
        headers = {**sent, **(headers or {})}
        attempts = 1 + (self.retries if retries is None else retries)
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                return self._once(method, url, data, headers)
            except ApiError as exc:
                if not exc.retryable or last:
                    raise
                delay = self._delay(attempt, exc)
                log.warning("%s %s: %s; retry %d in %.1f s", method, path, exc, attempt, delay)
            except (OSError, http.client.HTTPException) as exc:
                if last:
                    raise Unreachable(f"{method} {url}: {_reason(exc)}") from exc
                delay = self._delay(attempt)
                log.warning(
                    "%s %s: %s; retry %d in %.1f s", method, path, _reason(exc), attempt, delay
                )
            self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _encode(self, body: Any) -> tuple[bytes | None, dict[str, str]]:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if self.agent_id:
            headers["X-Agent-ID"] = self.agent_id
        if body is None:
            return None, headers
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
        if len(data) > COMPRESS_OVER:
            packed = gzip.compress(data, compresslevel=6)
            if len(packed) < len(data):
                data = packed
                headers["Content-Encoding"] = "gzip"
        return data, headers

    def _once(self, method: str, url: str, data: bytes | None, headers: dict) -> Reply:
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Reply(response.status, _json(response.read()))
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            body = _json(raw)
            error = body.get("error") if isinstance(body, dict) else None
            error = error if isinstance(error, dict) else {}
            message = str(error.get("message") or raw[:500].decode("utf-8", "replace"))
            raise ApiError(
                exc.code,
                str(error.get("code") or exc.reason or "HTTP_ERROR"),
                message,
                retryable=retryable_status(exc.code),
                retry_after=_seconds(exc.headers.get("Retry-After")),
            ) from None

    def _delay(self, attempt: int, error: ApiError | None = None) -> float:
        delay = min(self.backoff_cap, self.backoff * 2 ** (attempt - 1))
        # Up to a quarter more, at random: many agents must not retry at the same instant.
        delay += random.uniform(0, delay / 4)
        if error is not None and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return min(delay, self.backoff_cap)


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff alone will do


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return str(exc.reason)
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
