"""Open-loop HTTP/1.1 load generator: pre-encoded pipelined POSTs at a fixed arrival rate.

Run as a subprocess (`python -m bench.overload.loadgen SPEC.json`, pinned to its own core by
the caller); prints one JSON line of figures on stdout. See bench/overload/__main__.py for the
load model. Open loop: request i is due at start + i / rate whatever the server does; it is
written to connection i % connections at once (pipelined behind whatever that connection still
waits for), and its latency is counted from that due time, so time spent queued in this
process, in the kernel's socket buffers or in the server all counts (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Any

TICK = 0.001  # seconds between two rounds of sends
# A connection whose server stopped reading holds at most this many unanswered requests; later
# arrivals for it are counted as `client_dropped` (the client's own queue is full).
MAX_PENDING = 20_000


@dataclass
class Spec:
    """One run: where, what, how fast, how long."""

    port: int
    key: str
    path: str
    events_per_request: int
    seconds: float
    connections: int
    run_id: int  # makes this run's event ids unique
    rate: float = 0.0  # requests per second (open loop)
    mode: str = "open"  # "open": arrivals at `rate`; "closed": `depth` requests per connection
    depth: int = 1
    drain_seconds: float = 15.0
    record_ids: bool = True


@dataclass
class Figures:
    """What one run saw; latencies are of 2xx answers, in seconds from the due time."""

    sent: int = 0
    status: dict[int, int] = field(default_factory=dict)
    retry_after_missing: int = 0
    non_json_errors: int = 0
    unanswered: int = 0
    client_dropped: int = 0
    reconnects: int = 0
    latencies: array = field(default_factory=lambda: array("d"))  # type: ignore[type-arg]
    shed_latencies: array = field(default_factory=lambda: array("d"))  # type: ignore[type-arg]
    ok_ids: list[int] = field(default_factory=list)
    ok_in_window: int = 0  # 2xx whose request was due inside the measured window


class Bodies:
    """Pre-encoded requests; `request(i)` is request number i with its own event id(s)."""

    def __init__(self, spec: Spec, template: list[bytes]) -> None:
        self.spec = spec
        self.per = spec.events_per_request
        # One id prefix per run: 8 + 4 + 4 + 4 hex digits; the last 12 hold the event number.
        self.prefix = f"{spec.run_id:08x}-0000-4000-8000-".encode()
        head = (
            f"POST {spec.path} HTTP/1.1\r\nHost: 127.0.0.1:{spec.port}\r\n"
            f"Authorization: Bearer {spec.key}\r\nContent-Type: application/json\r\n"
        ).encode()
        self.head = head
        self.parts = template  # body pieces; an id goes between two consecutive pieces

    def request(self, number: int) -> bytes:
        """The bytes of request `number` (its events are numbered number * per + k)."""
        first = number * self.per
        pieces = [self.parts[0]]
        for k in range(self.per):
            pieces.append(self.prefix + b"%012x" % (first + k))
            pieces.append(self.parts[k + 1])
        body = b"".join(pieces)
        return self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def body_template(per: int, batch: bool) -> list[bytes]:
    """Body pieces around each event id: one event, or `{"events": [...]}` of `per` events."""
    from bench.ingest import payload

    events = [payload.event(n) for n in range(per)]
    pieces: list[str] = []
    text = ""
    for index, event in enumerate(events):
        encoded = json.dumps({"event_id": "\0", **event}, separators=(",", ":"))
        before, after = encoded.split('"\\u0000"')
        text += ("," if index else "") + before + '"'
        pieces.append(text)
        text = '"' + after
    pieces.append(text)
    if batch:
        pieces[0] = '{"events":[' + pieces[0]
        pieces[-1] += "]}"
    return [piece.encode() for piece in pieces]


class Connection(asyncio.Protocol):
    """One keep-alive connection: writes pipelined requests, parses answers in order."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.pending: deque[tuple[int, float]] = deque()  # (request number, due time)
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.outbox: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.outbox:
            transport.write(b"".join(self.outbox))
            self.outbox = []

    def send(self, number: int, due: float, data: bytes) -> None:
        """Queue request `number` on this connection (written at the end of the tick)."""
        self.pending.append((number, due))
        self.outbox.append(data)

    def flush(self) -> None:
        """Write what this tick queued, if the connection is up."""
        if self.transport is not None and self.outbox and not self.closed:
            self.transport.write(b"".join(self.outbox))
            self.outbox = []

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos = 0
        now = time.monotonic()
        while True:
            end = buf.find(b"\r\n\r\n", pos)
            if end < 0:
                break
            head = bytes(buf[pos:end]).lower()
            at = head.find(b"content-length:")
            if at < 0:
                raise RuntimeError(f"answer without content-length: {head[:300]!r}")
            length = int(head[at + 15 : head.index(b"\r\n", at) if b"\r\n" in head[at:] else None])
            if len(buf) < end + 4 + length:
                break
            status = int(head[9:12])
            body = bytes(buf[end + 4 : end + 4 + length])
            pos = end + 4 + length
            number, due = self.pending.popleft()
            self.gen.answered(number, due, now, status, head, body)
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.gen.lost(self)


class Generator:
    """Schedules arrivals over the connections and keeps the figures."""

    def __init__(self, spec: Spec, bodies: Bodies) -> None:
        self.spec = spec
        self.bodies = bodies
        self.figures = Figures()
        self.conns: list[Connection] = []
        self.start = 0.0
        self.end = 0.0
        self.loop = asyncio.get_running_loop()
        self.stopping = False
        self._numbers = 0

    def next_number(self) -> int:
        """The number of the next request (closed loop)."""
        self._numbers += 1
        return self._numbers - 1

    async def connect(self, index: int) -> None:
        """Open (or reopen) connection `index`."""
        conn = Connection(self)
        if index < len(self.conns):
            old = self.conns[index]
            conn.outbox = old.outbox
            old.outbox = []
            self.conns[index] = conn
        else:
            self.conns.append(conn)
        await self.loop.create_connection(lambda: conn, "127.0.0.1", self.spec.port)

    def answered(
        self, number: int, due: float, now: float, status: int, head: bytes, body: bytes
    ) -> None:
        """Count one answer."""
        figures = self.figures
        figures.status[status] = figures.status.get(status, 0) + 1
        if 200 <= status < 300:
            figures.latencies.append(now - due)
            if self.spec.record_ids:
                figures.ok_ids.append(number)
            if due <= self.end:
                figures.ok_in_window += 1
        elif status in (429, 503):
            figures.shed_latencies.append(now - due)
            if b"retry-after:" not in head:
                figures.retry_after_missing += 1
            if not body.startswith(b"{"):
                figures.non_json_errors += 1

    def lost(self, conn: Connection) -> None:
        """A connection closed: what it still waited for is unanswered; reopen it."""
        self.figures.unanswered += len(conn.pending)
        conn.pending.clear()
        if not self.stopping and conn in self.conns:
            self.figures.reconnects += 1
            self.loop.create_task(self.connect(self.conns.index(conn)))

    async def run_open(self) -> None:
        """Arrivals at `rate` for `seconds`, spread round robin over the connections."""
        spec = self.spec
        sent = 0
        count = len(self.conns)
        while True:
            now = time.monotonic()
            if now >= self.end:
                break
            due_count = int((now - self.start) * spec.rate)
            touched: set[int] = set()
            while sent < due_count:
                index = sent % count
                conn = self.conns[index]
                due = self.start + sent / spec.rate
                if len(conn.pending) >= MAX_PENDING:
                    self.figures.client_dropped += 1
                else:
                    conn.send(sent, due, self.bodies.request(sent))
                    touched.add(index)
                    self.figures.sent += 1
                sent += 1
            for index in touched:
                self.conns[index].flush()
            await asyncio.sleep(TICK)

    async def drain(self) -> None:
        """Stop sending; wait for the answers still due (at most drain_seconds)."""
        self.stopping = True
        deadline = time.monotonic() + self.spec.drain_seconds
        while time.monotonic() < deadline and any(c.pending for c in self.conns):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        for conn in self.conns:
            self.figures.unanswered += len(conn.pending)
            conn.pending.clear()
            if conn.transport is not None:
                conn.transport.close()


class ClosedConnection(Connection):
    """A connection that sends its next request as soon as an answer arrives (closed loop)."""

    def data_received(self, data: bytes) -> None:
        before = len(self.pending)
        super().data_received(data)
        gen = self.gen
        if gen.stopping or time.monotonic() >= gen.end:
            return
        for _ in range(before - len(self.pending)):
            number = gen.next_number()
            self.send(number, time.monotonic(), gen.bodies.request(number))
            gen.figures.sent += 1
        self.flush()


async def run_closed(gen: Generator) -> None:
    """Each connection keeps `depth` requests outstanding until the end of the run."""
    now = time.monotonic()
    for conn in gen.conns:
        for _ in range(gen.spec.depth):
            number = gen.next_number()
            conn.send(number, now, gen.bodies.request(number))
            gen.figures.sent += 1
        conn.flush()
    await asyncio.sleep(max(0.0, gen.end - time.monotonic()))


async def main_async(spec: Spec) -> dict[str, Any]:
    """Connect, run, drain; the figures as JSON-able data."""
    batch = spec.path.endswith("/batch")
    bodies = Bodies(spec, body_template(spec.events_per_request, batch))
    gen = Generator(spec, bodies)
    kind = ClosedConnection if spec.mode == "closed" else Connection
    for _ in range(spec.connections):
        conn = kind(gen)
        gen.conns.append(conn)
        await gen.loop.create_connection(lambda c=conn: c, "127.0.0.1", spec.port)
    gen.start = time.monotonic()
    gen.end = gen.start + spec.seconds
    cpu_start = time.process_time()
    if spec.mode == "closed":
        await run_closed(gen)
    else:
        await gen.run_open()
    cpu_load = (time.process_time() - cpu_start) / spec.seconds  # of this process's core
    await gen.drain()
    f = gen.figures
    return {
        "started": gen.start,
        "loadgen_cpu": cpu_load,
        "ended": gen.end,
        "sent": f.sent,
        "status": {str(k): v for k, v in sorted(f.status.items())},
        "retry_after_missing": f.retry_after_missing,
        "non_json_errors": f.non_json_errors,
        "unanswered": f.unanswered,
        "client_dropped": f.client_dropped,
        "reconnects": f.reconnects,
        "ok_in_window": f.ok_in_window,
        "seconds": spec.seconds,
        "latencies": sorted(f.latencies),
        "shed_latencies": sorted(f.shed_latencies),
        "ok_ids": f.ok_ids,
    }


def main() -> int:
    """Read the spec (a JSON file named on the command line), run, print the figures."""
    with open(sys.argv[1]) as handle:
        spec = Spec(**json.load(handle))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(main_async(spec))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
