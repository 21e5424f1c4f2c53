"""Helpers of the Python SDK tests: database counts, subprocesses and a flaky HTTP proxy."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.harness import REPO, Server, Tenant

SDK_SRC = REPO / "sdks" / "python"


def count_events(server: Server, tenant: Tenant) -> int:
    """How many events the tenant's project has stored."""
    return int(
        server.query("SELECT count(*) FROM events WHERE project_id = ?", tenant.project_id)[0][0]
    )


def count_feedback(server: Server, tenant: Tenant) -> int:
    """How many feedback rows the tenant's project has stored."""
    return int(
        server.query("SELECT count(*) FROM feedback WHERE project_id = ?", tenant.project_id)[0][0]
    )


def unused_url() -> str:
    """A URL on which nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def run_python(
    code: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (this checkout's SDK importable, PHOSPHO_* from `env`)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("PHOSPHO_")}
    paths = [str(SDK_SRC), full.get("PYTHONPATH", "")]
    full["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Seen:
    """One request that reached the proxy."""

    method: str
    path: str
    body: bytes
    fault: str | None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class FlakyProxy:
    """A real HTTP proxy in front of the real server that misbehaves on purpose.

    `faults` is consumed one per request; each is one of:
      "503"                 answer 503 (as the server does when it is unavailable)
      "500"                 answer 500
      "429:<seconds>"       answer 429 with `Retry-After: <seconds>`
      "drop"                close the connection without answering (request not forwarded)
      "forward-then-drop"   forward to the server (so it is stored), then close the connection
                            without relaying the answer: the client cannot know it was stored
      "hang"                never answer (until the proxy stops)
    Requests with no fault left are forwarded untouched.
    """

    upstream: str
    faults: deque[str] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    httpd: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def add(self, *faults: str) -> None:
        with self.lock:
            self.faults.extend(faults)

    def posts(self) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.method == "POST"]

    def start(self) -> None:
        proxy = self
        client = httpx.Client(timeout=30)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    fault = proxy.faults.popleft() if proxy.faults else None
                    proxy.seen.append(Seen(self.command, self.path, body, fault))
                if fault == "drop":
                    self.close_connection = True
                    return
                if fault == "hang":
                    proxy.stopping.wait(60)
                    self.close_connection = True
                    return
                if fault in ("503", "500"):
                    self._reply(int(fault), b'{"detail":"try again","code":"unavailable"}', {})
                    return
                if fault and fault.startswith("429:"):
                    self._reply(
                        429,
                        b'{"detail":"slow down","code":"rate_limited"}',
                        {"Retry-After": fault.split(":", 1)[1]},
                    )
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("authorization", "content-type", "accept")
                }
                answer = client.request(
                    self.command, proxy.upstream + self.path, content=body, headers=headers
                )
                if fault == "forward-then-drop":
                    self.close_connection = True
                    return
                passed = {
                    k: v
                    for k, v in answer.headers.items()
                    if k.lower() in ("content-type", "www-authenticate", "retry-after")
                }
                self._reply(answer.status_code, answer.content, passed)

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                headers.setdefault("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = _handle
            do_GET = _handle

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._client = client
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.stopping.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
        self._client.close()
