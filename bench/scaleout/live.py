"""Live delivery across processes: a GraphQL subscriber on A, single events POSTed to B at a
fixed rate; for each event the time from its 201 (on the posting client) to its delivery (on
the subscriber), both read from one monotonic clock in this process.

The poster is a minimal HTTP/1.1 client on asyncio streams (a few connections, requests
started on a fixed schedule), so that the client's own cost stays small on a 2-core machine.
A delivery may arrive before the 201 is read (the NOTIFY leaves at COMMIT, as the answer
does): such a latency is negative, and counted as measured.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

from websockets.asyncio.client import connect

from bench.ingest.payload import event

CONNECTIONS = 8


def _request(port: int, key: str, n: int) -> bytes:
    body = json.dumps(event(n)).encode()
    head = (
        f"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _post_one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> tuple[int, dict[str, Any]]:
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(v) for k, _, v in (line.partition(":") for line in lines[1:])
                  if k.lower() == "content-length")  # fmt: skip
    return status, json.loads(await reader.readexactly(length))


async def _subscribe(a_url: str, key: str) -> Any:
    ws = await connect(a_url.replace("http://", "ws://") + "/graphql",
                       subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]  # fmt: skip
    await ws.send(json.dumps({"type": "connection_init",
                              "payload": {"Authorization": f"Bearer {key}"}}))  # fmt: skip
    ack = json.loads(await ws.recv())
    assert ack["type"] == "connection_ack", ack
    query = "subscription { eventLogged { id } }"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    return ws


async def measure(a_url: str, b_port: int, key: str, rate: int, seconds: float) -> dict[str, Any]:
    """Post `rate` events/s to B for `seconds`; the latency percentiles and the misses."""
    ws = await _subscribe(a_url, key)
    delivered: dict[str, list[float]] = {}

    async def read() -> None:
        async for raw in ws:
            now = time.monotonic()
            message = json.loads(raw)
            if message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                event_id = message["payload"]["data"]["eventLogged"]["id"]
                delivered.setdefault(event_id, []).append(now)

    reader_task = asyncio.create_task(read())
    conns = [await asyncio.open_connection("127.0.0.1", b_port) for _ in range(CONNECTIONS)]
    # The subscription is live once a first event comes through.
    _, first = await _post_one(*conns[0], _request(b_port, key, 0))
    for _ in range(100):
        if first["event_id"] in delivered:
            break
        await asyncio.sleep(0.05)
    else:
        raise RuntimeError("the subscriber on A never received an event posted to B")
    answered: dict[str, float] = {}
    errors = 0
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def poster(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors
        while (data := await queue.get()) is not None:
            status, body = await _post_one(reader, writer, data)
            if status == 201:
                answered[body["event_id"]] = time.monotonic()
            else:
                errors += 1

    posters = [asyncio.create_task(poster(*conn)) for conn in conns]
    total = int(rate * seconds)
    start = time.monotonic()
    for n in range(1, total + 1):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(_request(b_port, key, n))
    for _ in posters:
        queue.put_nowait(None)
    await asyncio.gather(*posters)
    sent_for = time.monotonic() - start
    for _ in range(200):  # the last deliveries: up to 10 s
        if all(i in delivered for i in answered):
            break
        await asyncio.sleep(0.05)
    reader_task.cancel()
    await ws.close()
    for _, writer in conns:
        writer.close()
    latencies = sorted((delivered[i][0] - t) * 1000 for i, t in answered.items() if i in delivered)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "posted": len(answered), "errors": errors, "rate": len(answered) / sent_for,
        "delivered": sum(1 for i in answered if i in delivered),
        "missed": sum(1 for i in answered if i not in delivered),
        "duplicates": sum(len(times) - 1 for times in delivered.values()),
        "p50_ms": q[49], "p95_ms": q[94], "p99_ms": q[98], "max_ms": latencies[-1],
    }  # fmt: skip
