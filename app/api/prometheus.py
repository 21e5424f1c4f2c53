"""`GET /metrics`: the instruments of app/instruments.py in Prometheus' text format.

Answered by the observing middleware (app/api/observe.py) without the router. Open unless
`PHOSPHO_METRICS_TOKEN` is set; then only `Authorization: Bearer <token>` gets in (compared in
constant time), never the login cookie or an API key: a scraper is not a user of a project.

One process: the registry of app/instruments.py. Several (`PROMETHEUS_MULTIPROC_DIR` set, as
`phospho serve --workers N` does): a `MultiProcessCollector` over that directory's files, so a
scrape answered by any worker shows the sum over all of them (prometheus-client's multiprocess
mode). Either way the database's size is read at scrape time (app/services/database_size.py):
it is the database's, not a process's, so it is never summed.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterable, Iterator

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from app.api.errors import error_body
from app.api.events import authorization
from app.instruments import REGISTRY
from app.limits import Receive, Scope, Send
from app.services.database_size import DatabaseSize

log = logging.getLogger("phospho.metrics")

PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class DatabaseSizeCollector(Collector):
    """`phospho_database_size_bytes` from the last reading (absent before the first one)."""

    def __init__(self, size: DatabaseSize) -> None:
        self.size = size

    def collect(self) -> Iterator[Metric]:
        """The size as one gauge sample."""
        if self.size.bytes is not None:
            yield GaugeMetricFamily(
                "phospho_database_size_bytes",
                "Size of the database on disk (SQLite: the file and its WAL; PostgreSQL: "
                "pg_database_size).",
                value=self.size.bytes,
            )


def scrape_registry(size: DatabaseSize) -> CollectorRegistry:
    """What a scrape renders: this process's instruments, or every process's files."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
    registry.register(DatabaseSizeCollector(size))
    return registry


class _Forward(Collector):
    """The instruments' registry seen as one collector of the scrape's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        """Every metric of the forwarded registry."""
        return self.registry.collect()


class MetricsEndpoint:
    """Answers `GET /metrics` (see the module's docstring)."""

    def __init__(self, token: str, size: DatabaseSize) -> None:
        # No `_created` series (a timestamp beside every counter and histogram): multiprocess
        # mode has none, so both modes give one shape, and the text is about half as long.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self._token = f"Bearer {token}".encode() if token else None
        self._size = size
        self._registry = scrape_registry(size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer the scrape; returns the status sent."""
        if scope["method"] != "GET":
            body = error_body("Method Not Allowed", "http_error")
            return await _send(send, 405, orjson.dumps(body), [(b"allow", b"GET")])
        if self._token is not None and not self._authorized(scope):
            body = error_body("a valid metrics token is required", "unauthorized")
            return await _send(send, 401, orjson.dumps(body), [(b"www-authenticate", b"Bearer")])
        try:
            await self._size.refresh()
        except Exception as exc:  # the database is away: the other metrics still matter
            log.warning("could not read the database size for /metrics: %s", exc)
        output = generate_latest(self._registry)
        return await _send(send, 200, output, [(b"content-type", CONTENT_TYPE_LATEST.encode())])

    def _authorized(self, scope: Scope) -> bool:
        given = authorization(scope)
        assert self._token is not None
        return given is not None and hmac.compare_digest(given.encode("latin-1"), self._token)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    if status != 200:
        headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status
