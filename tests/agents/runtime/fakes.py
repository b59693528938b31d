"""Test doubles for the agent: a recording HTTP server that speaks the agent protocol,
and tiny Python scripts that play scanners."""

from __future__ import annotations

import gzip
import json
import os
import stat
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SAMPLE_APP = Path(__file__).resolve().parents[3] / "samples" / "vulnerable-app"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes
    body: Any


class FakeServer:
    """Answers like the rediverio server and records every request. `script` holds
    canned (status, body) replies for a path, used before the default behaviour."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Recorded] = []
        self.commands: deque[list[dict]] = deque()
        self.script: dict[str, deque[tuple]] = {}
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def reply(self, path: str, *answers: tuple) -> None:
        """Canned answers: (status, body) or (status, body, headers)."""
        self.script.setdefault(path, deque()).extend(answers)

    def queue_commands(self, *commands: dict) -> None:
        self.commands.append(list(commands))

    def calls(self, path: str = "", method: str = "") -> list[Recorded]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.path.startswith(path) and (not method or r.method == method)
            ]

    def wait_for(self, check: Callable[[], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := check():
                return found
            time.sleep(0.05)
        raise AssertionError(f"gave up waiting after {timeout} s; requests: {self.summary()}")

    def summary(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.calls()]

    def answer(self, recorded: Recorded) -> tuple:
        scripted = self.script.get(recorded.path)
        if scripted:
            return scripted.popleft()
        path, body = recorded.path, recorded.body
        if path == "/api/v1/agent/heartbeat":
            return 200, {"status": "ok", "agent_id": "a", "tenant_id": "t"}
        if path == "/api/v1/agent/commands":
            return 200, self.commands.popleft() if self.commands else []
        if path.startswith("/api/v1/agent/commands/"):
            return 200, {"id": path.split("/")[5], "status": "ok"}
        if path == "/api/v1/agent/ingest/chunk":
            final = body["is_final"]
            return (201, {"scan_id": "s", "findings_created": 0}) if final else (202, {})
        if path.startswith("/api/v1/agent/ingest"):
            metadata = body.get("metadata") or {}
            return 201, {
                "scan_id": metadata.get("id") or "standalone",
                "findings_created": len(body.get("findings") or []),
                "errors": [],
            }
        return 404, {"error": {"code": "NOT_FOUND", "message": path}}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
        recorded = Recorded(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw=raw,
            body=json.loads(data) if data else None,
        )
        with self.fake.lock:
            self.fake.requests.append(recorded)
        status, body, *headers = self.fake.answer(recorded)
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers[0] if headers else {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SARIF_RESULT = {
    "version": "2.1.0",
    "runs": [
        {
            "tool": {"driver": {"name": "fakescan", "version": "1.0"}},
            "results": [
                {
                    "ruleId": "FAKE001",
                    "level": "error",
                    "message": {"text": "A fake problem"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": "app.py"},
                                "region": {"startLine": 3},
                            }
                        }
                    ],
                }
            ],
        }
    ],
}

_SCRIPT = '''#!{python}
"""A fake scanner: fakescan OUTPUT TARGET [--sleep S] [--pidfile F] [--exit N]."""
import json, os, subprocess, sys, time
args = sys.argv[1:]
output, target = args[0], args[1]
options = dict(zip(args[2::2], args[3::2]))
if "--pidfile" in options:
    # A child in the same process group: killing the group must take it too.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(options["--pidfile"], "w") as f:
        f.write(f"{{os.getpid()}} {{child.pid}}")
time.sleep(float(options.get("--sleep", 0)))
with open(output, "w") as f:
    json.dump({sarif}, f)
sys.exit(int(options.get("--exit", 0)))
'''


def fake_scanner(folder: Path, name: str = "fakescan") -> Path:
    """An executable Python script that writes one SARIF result."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(_SCRIPT.format(python=sys.executable, sarif=repr(SARIF_RESULT)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def shell_tool(folder: Path, name: str, body: str) -> Path:
    """An executable shell script standing in for a tool (e.g. a broken trivy)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose: it runs nothing.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return True
