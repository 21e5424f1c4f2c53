"""The outermost middleware: one request's id, route, status and duration, computed once and
fed to the metrics (app/instruments.py) and to the access log line (JSON logs, app/logs.py).
It also answers `GET /metrics` (app/api/prometheus.py) without the router.

- **Request id**: the client's `X-Request-ID` when it is sane (1-128 characters of
  `A-Z a-z 0-9 . _ : + / = -`), otherwise a new one (32 hex digits, `RequestIds`). It is echoed on
  every answer the application gives, errors included, and carried by the log lines written
  while the request runs. A hostile header (huge, with newlines, non-ASCII) is replaced,
  never logged. Answers the protocol gives before any ASGI task exists (health checks,
  admission's 503s, app/http_protocol.py) carry none: they are pre-encoded bytes, kept that
  way because a refusal must cost next to nothing.
- **Route**: the route's template, never the raw path: `IngestRoutes` and `OtlpRoutes` name
  theirs in the scope (app/request_context.py), the router leaves the matched route in
  `scope["route"]`; a path no route matches is "other". The series stay bounded.
- **Cost**: ~4 µs per request in-process (a header scan, a context variable, one counter
  and one histogram child kept in dictionaries, `perf_counter` twice) against ~250 µs of CPU
  for one stored event.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from typing import Any

from starlette.routing import Mount, Route

from app.api.prometheus import PATH as METRICS_PATH
from app.api.prometheus import MetricsEndpoint
from app.instruments import HTTP_LATENCY, HTTP_REQUESTS
from app.limits import ASGIApp, Message, Receive, Scope, Send
from app.request_context import PROJECT_KEY, REQUEST_ID, ROUTE_KEY

access_log = logging.getLogger("phospho.access")

HEADER = b"x-request-id"
MAX_ID_LENGTH = 128
_SANE_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
OTHER = "other"  # the route of a path no route matches, and the method of an unusual one
DISCONNECTED = 499  # the status counted when the client left before any answer (nginx's)


def client_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The client's X-Request-ID if it is sane, else None."""
    for name, value in headers:
        if name == HEADER:
            if len(value) <= MAX_ID_LENGTH:
                text = value.decode("latin-1")
                if _SANE_ID.fullmatch(text):
                    return text
            break
    return None


class RequestIds:
    """New request ids: 16 random hex digits drawn once per process, then a counter (16 hex
    digits). Unique across processes and restarts without a random draw per request:
    `os.urandom` per request was 2.3% of the event loop's busy time under ingest load (a
    getrandom system call each; py-spy, bench/ingest at 16 connections). The prefix is drawn
    at the first request, so that forked workers each draw their own."""

    def __init__(self) -> None:
        self._prefix: str | None = None
        self._counter = itertools.count()

    def new(self) -> str:
        """A new id (32 hex digits)."""
        if self._prefix is None:
            self._prefix = secrets.token_hex(8)
        return f"{self._prefix}{next(self._counter):016x}"


def route_template(scope: Scope, plain: PlainRoutes | None) -> str:
    """The template of the route that answered (see the module's docstring); `plain`: the
    app's plain routes, when known."""
    named: str | None = scope.get(ROUTE_KEY)
    if named is not None:
        return named
    route = scope.get("route")  # FastAPI's routes (APIRoute) leave themselves here
    template = getattr(route, "path_format", None)
    if isinstance(template, str):
        return template
    return plain.template(scope) if plain is not None else OTHER


class PlainRoutes:
    """The app's own Starlette routes and mounts (the API docs, /static), which FastAPI's
    router does not name in the scope: by endpoint, and mounts by prefix."""

    def __init__(self, routes: list[Any]) -> None:
        self.endpoints = {r.endpoint: r.path_format for r in routes if isinstance(r, Route)}
        self.mounts = [(r.path + "/", r.path_format) for r in routes if isinstance(r, Mount)]

    def template(self, scope: Scope) -> str:
        """The template of the plain route that matched `scope`, else OTHER."""
        endpoint = scope.get("endpoint")
        if endpoint is not None and endpoint in self.endpoints:
            return self.endpoints[endpoint]
        path: str = scope["path"]
        for prefix, template in self.mounts:
            if path.startswith(prefix):
                return template
        return OTHER


class RequestObserver:
    """See the module's docstring. `log_requests`: write one access line per request."""

    def __init__(self, app: ASGIApp, *, metrics: MetricsEndpoint, log_requests: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests
        # Children of the instruments, looked up once per label set (labels() costs ~1.5 µs).
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[str, Any] = {}
        self._ids = RequestIds()
        self._plain: PlainRoutes | None = None  # read from the app at its first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = client_request_id(scope["headers"]) or self._ids.new()
        token = REQUEST_ID.set(rid)
        echoed = (HEADER, rid.encode())
        status = DISCONNECTED

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        try:
            if scope["path"] == METRICS_PATH:
                scope[ROUTE_KEY] = METRICS_PATH
                await self.metrics(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        except BaseException:
            if status == DISCONNECTED:  # raised before any answer: the server's 500
                status = 500
            raise
        finally:
            self._observe(scope, status, time.perf_counter() - started, rid)
            REQUEST_ID.reset(token)

    def _observe(self, scope: Scope, status: int, seconds: float, rid: str) -> None:
        if self._plain is None and "app" in scope:
            self._plain = PlainRoutes(list(scope["app"].routes))
        route = route_template(scope, self._plain)
        method = scope["method"] if scope["method"] in METHODS else OTHER
        key = (route, method, status)
        count = self._counts.get(key)
        if count is None:
            count = self._counts[key] = HTTP_REQUESTS.labels(route, method, str(status))
        count.inc()
        latency = self._latency.get(route)
        if latency is None:
            latency = self._latency[route] = HTTP_LATENCY.labels(route)
        latency.observe(seconds)
        if self.log_requests:
            self._log(scope, route, method, status, seconds, rid)

    @staticmethod
    def _log(scope: Scope, route: str, method: str, status: int, seconds: float, rid: str) -> None:
        client = scope.get("client")
        access_log.info(
            "%s %s %d",
            method,
            route,
            status,
            extra={
                "request_id": rid,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "project_id": scope.get(PROJECT_KEY),
                "client": client[0] if client else None,
            },
        )
