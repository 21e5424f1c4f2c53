"""An open-loop load of single-event POSTs over keep-alive connections: request i is due at
start + i / rate, and its latency counts from when it was due (a request waiting for a free
connection is late, not unmeasured: no coordinated omission)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

BODY = (
    b'{"input": "live question", "output": "live answer", "session_id": "live", "user_id": "live"}'
)


@dataclass
class Samples:
    """(due, seconds, status) of every request, `due` on time.monotonic()."""

    rows: list[tuple[float, float, int]] = field(default_factory=list)


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def run_load(port: int, key: str, rate: float, stop: asyncio.Event, samples: Samples,
                   connections: int = 16) -> None:  # fmt: skip
    """POST one event every 1/rate s until `stop` is set."""
    request = (
        f"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    tasks: set[asyncio.Task[None]] = set()

    async def send(due: float) -> None:
        conn = await pool.get()
        try:
            status = await _one(*conn, request)
        except (OSError, asyncio.IncompleteReadError):
            status = 0
            conn = await asyncio.open_connection("127.0.0.1", port)
        samples.rows.append((due, time.monotonic() - due, status))
        pool.put_nowait(conn)

    start = time.monotonic()
    number = 0
    while not stop.is_set():
        due = start + number / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(send(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        number += 1
    await asyncio.gather(*tasks)
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()


def percentile(values: list[float], share: float) -> float:
    """The `share` percentile (nearest rank) of `values`, 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
