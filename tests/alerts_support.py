"""A webhook receiver on loopback for the alert tests: records every request (time, headers,
body), answers 500 to the first `fail_first` ones of each path, and verifies signatures the way
the README tells users to."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson

from tests.harness import REPO, Server, Tenant


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    at: float
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """The receiver's state (what it got, how often each path fails first)."""

    fail_first: dict[str, int] = field(default_factory=dict)
    got: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str) -> str:
        """A URL of this receiver."""
        return f"http://127.0.0.1:{self.port}{path}"

    def of(self, path: str, answered: int | None = 200) -> list[Received]:
        """What a path received (only the requests answered `answered`; None: all)."""
        with self.lock:
            return [r for r in self.got if r.path == path and answered in (None, r.answered)]

    def wait_for(self, path: str, count: int, timeout: float = 70.0) -> list[Received]:
        """Poll until `path` got `count` successful requests; those requests."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.of(path))} of {count} messages in {timeout} s")


def _readme_verify() -> Callable[..., bool]:
    """The README's receiver check (its `verify` snippet, run as written)."""
    readme = (REPO / "README.md").read_text()
    block = next(
        part.split("```", 1)[0]
        for part in readme.split("```python\n")[1:]
        if "def verify(secret" in part.split("```", 1)[0]
    )
    scope: dict[str, Any] = {}
    exec(block, scope)  # noqa: S102 (the README's own snippet)
    found: Callable[..., bool] = scope["verify"]
    return found


# The signature over `<timestamp>.<body>`, and a recent timestamp (an old one is a replay).
verify = _readme_verify()


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    """A receiver listening on a free loopback port (stop it with `.shutdown()`)."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with state.lock:
                earlier = sum(1 for r in state.got if r.path == self.path)
                status = 500 if earlier < state.fail_first.get(self.path, 0) else 200
                headers = {k.lower(): v for k, v in self.headers.items()}
                state.got.append(Received(self.path, time.time(), headers, body, status))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = int(httpd.server_address[1])
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return state, httpd


def gql(server: Server, tenant: Tenant, query: str, **variables: Any) -> dict[str, Any]:
    """Run a GraphQL operation with the tenant's key; its data (errors fail the test)."""
    answer = httpx.post(
        server.base_url + "/graphql",
        json={"query": query, "variables": variables},
        headers=tenant.headers,
        timeout=30,
    )
    body = answer.json()
    assert answer.status_code == 200 and not body.get("errors"), body
    return dict(body["data"])


def gql_errors(server: Server, tenant: Tenant, query: str, **variables: Any) -> list[Any]:
    """Run a GraphQL operation expected to fail; its errors."""
    answer = httpx.post(
        server.base_url + "/graphql",
        json={"query": query, "variables": variables},
        headers=tenant.headers,
        timeout=30,
    )
    errors = answer.json().get("errors")
    assert errors, answer.text
    return list(errors)


CREATE_DESTINATION = """mutation($name: String!, $kind: AlertDestinationKind!, $url: String!) {
  createAlertDestination(name: $name, kind: $kind, url: $url) { secret destination { id } }
}"""
CREATE_RULE = """mutation($input: AlertRuleInput!) {
  createAlertRule(input: $input) { id state destinations { id } }
}"""
EVENTS = """query($rule: ID) { alertEvents(ruleId: $rule) {
  id kind value message deliveries { destination status attempts lastError }
} }"""


def log_latencies(server: Server, tenant: Tenant, latencies: list[float]) -> None:
    """Log one event per latency (one batch)."""
    events = [
        {"input": "q", "output": "a", "metadata": {"model": "m", "latency_ms": value}}
        for value in latencies
    ]
    answer = httpx.post(
        server.base_url + "/api/v1/events/batch",
        json={"events": events},
        headers=tenant.headers,
        timeout=30,
    )
    assert answer.status_code in (200, 201), answer.text
