"""The load and the watchers: a fixed-rate poster of single events, GraphQL and SSE subscribers.

Every time is read from one monotonic clock in this process: the 201's arrival on the poster,
each delivery's arrival on a subscriber. A delivery may arrive before the 201 is read (the bus
publishes at COMMIT, as the answer leaves): such a latency is negative and counted as measured.
The subscribers parse as little as they can (the event id only), so that the client's own cost
stays small on a 2-core machine; with 100 subscribers it is not small (see the README).
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.scaleout.live import _post_one, _request

CONNECTIONS = 8
GRAPHQL_QUERY = "subscription { eventLogged { id sessionId input output } }"
ROW_ID = re.compile(rb'id="ev-([0-9a-f-]{36})"')


@dataclass
class Watcher:
    """What one subscriber received: the first arrival of each event id, repeats, resyncs."""

    delivered: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    resyncs: int = 0
    task: asyncio.Task[None] | None = None
    closer: Any = None

    def got(self, event_id: str, now: float) -> None:
        """Note a delivery."""
        if event_id in self.delivered:
            self.duplicates += 1
        else:
            self.delivered[event_id] = now


async def graphql_watcher(base_url: str, key: str, query: str = GRAPHQL_QUERY) -> Watcher:
    """A GraphQL `eventLogged` subscriber (its own WebSocket) reading in a task."""
    ws: ClientConnection = await connect(
        base_url.replace("http://", "ws://") + "/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_size=None,
    )
    await ws.send(json.dumps({"type": "connection_init",
                              "payload": {"Authorization": f"Bearer {key}"}}))  # fmt: skip
    ack = json.loads(await ws.recv())
    assert ack["type"] == "connection_ack", ack
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    watcher = Watcher(closer=ws.close)

    async def read() -> None:
        async for raw in ws:
            now = time.monotonic()
            message = json.loads(raw)
            kind = message["type"]
            if kind == "next":
                if message["payload"].get("errors"):
                    watcher.resyncs += 1
                    return
                watcher.got(message["payload"]["data"]["eventLogged"]["id"], now)
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
            elif kind in ("error", "complete"):
                watcher.resyncs += 1
                return

    watcher.task = asyncio.create_task(read())
    return watcher


async def sse_watcher(port: int, cookie: str, path: str = "/live/events") -> Watcher:
    """A dashboard events-stream subscriber (its own connection), signed in by `cookie`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        f"Cookie: {cookie}\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    watcher = Watcher(closer=_closer(writer))

    async def read() -> None:
        # Each SSE event is one body write, hence one chunk: a line is never split.
        while line := await reader.readline():
            now = time.monotonic()
            if line.startswith(b"data:"):
                found = ROW_ID.search(line)
                if found:
                    watcher.got(found.group(1).decode(), now)
            elif line.startswith(b"event: overflow"):
                watcher.resyncs += 1

    watcher.task = asyncio.create_task(read())
    return watcher


def _closer(writer: asyncio.StreamWriter) -> Any:
    async def close() -> None:
        writer.close()

    return close


async def open_watchers(
    kind: str, count: int, base_url: str, port: int, key: str, cookie: str
) -> list[Watcher]:
    """`count` subscribers of `kind` ("graphql" or "sse")."""
    if kind == "graphql":
        return [await graphql_watcher(base_url, key) for _ in range(count)]
    return [await sse_watcher(port, cookie) for _ in range(count)]


async def close_watchers(watchers: list[Watcher]) -> None:
    """Stop reading and close every connection."""
    for watcher in watchers:
        if watcher.task is not None:
            watcher.task.cancel()
        await watcher.closer()


async def wait_live(
    watchers: list[Watcher], conns: list[Any], port: int, key: str, deadline_s: float = 20.0
) -> None:
    """Post probes until every watcher has received one: each subscription is then open."""
    start = time.monotonic()
    n = 10_000_000
    while watchers:
        n += 1
        _, body = await _post_one(*conns[0], _request(port, key, n))
        probe = body["event_id"]
        for _ in range(20):
            if all(probe in w.delivered for w in watchers):
                return
            await asyncio.sleep(0.05)
        if time.monotonic() - start > deadline_s:
            raise RuntimeError("a subscriber never received a probe event")


async def post_at_rate(
    conns: list[Any], port: int, key: str, rate: int, seconds: float
) -> tuple[dict[str, float], int, float, list[float]]:
    """Post `rate` single events/s for `seconds` over the connections; the 201 times by event
    id, the number of non-201 answers, how long the sending took, and each request's time
    from its scheduled start to its answer (ms: a request waiting for a busy connection counts
    its wait, as an open-loop client's would)."""
    answered: dict[str, float] = {}
    ingest: list[float] = []
    errors = 0
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def poster(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors
        while (item := await queue.get()) is not None:
            due, data = item
            status, body = await _post_one(reader, writer, data)
            now = time.monotonic()
            ingest.append((now - due) * 1000)
            if status == 201:
                answered[body["event_id"]] = now
            else:
                errors += 1

    posters = [asyncio.create_task(poster(*conn)) for conn in conns]
    total = int(rate * seconds)
    start = time.monotonic()
    for n in range(1, total + 1):
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, _request(port, key, n)))
    for _ in posters:
        queue.put_nowait(None)
    await asyncio.gather(*posters)
    return answered, errors, time.monotonic() - start, ingest


async def settle(watchers: list[Watcher], answered: dict[str, float], wait_s: float) -> None:
    """Wait (at most `wait_s`) until every watcher has every answered event or gave up."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if all(w.resyncs or all(i in w.delivered for i in answered) for w in watchers):
            return
        await asyncio.sleep(0.05)


def figures(watchers: list[Watcher], answered: dict[str, float]) -> dict[str, Any]:
    """Latency percentiles pooled over the watchers, and misses, repeats and resyncs."""
    latencies: list[float] = []
    missed = 0
    for watcher in watchers:
        for event_id, at in answered.items():
            got = watcher.delivered.get(event_id)
            if got is None:
                missed += 1
            else:
                latencies.append((got - at) * 1000)
    latencies.sort()
    out: dict[str, Any] = {
        "delivered": len(latencies), "missed": missed,
        "duplicates": sum(w.duplicates for w in watchers),
        "resyncs": sum(w.resyncs for w in watchers),
    }  # fmt: skip
    if len(latencies) >= 2:
        q = statistics.quantiles(latencies, n=100, method="inclusive")
        out.update(p50_ms=q[49], p95_ms=q[94], p99_ms=q[98], max_ms=latencies[-1])
    return out
