"""Admission control's limits, counters and pre-encoded answers (used by app/http_protocol.py),
and the skimmer: the parser callbacks of a connection that can only be refused.

Kept apart from the protocol so that what a refusal writes, and what it costs, reads on its
own: the answers are bytes built once, and a skimmed request costs four Python calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import orjson

from app.instruments import REFUSED

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger("phospho.admission")

HEALTH = b"/api/v1/health"
# Never counted: the live streams (open for minutes), and readiness (app/api/ready.py).
READY = b"/api/v1/ready"
EXEMPT_PREFIXES = (b"/live/", READY)
UNKNOWN_BODY = 64 * 1024  # what a chunked body counts for against max_in_flight_bytes
READ_SIZE = 64 * 1024
# After a read that was only refused (or health checks), a connection is not read again for
# this long. Open-loop clients at 10x capacity sent one request per read, and a read, its
# write and the loop's wake-up cost more than the refusal itself (~11 µs in all against
# ~3.5 µs of parsing): reading them in groups makes refusing cheap enough to keep goodput.
# A refusal waits at most this long for its answer; a health check likewise, if pipelined
# behind a refused request (load balancers open a connection per check).
REFUSAL_HOLD = 0.01
LOG_EVERY = 10.0  # seconds between two "shedding" log lines
# Why a request was refused (the `reason` label of phospho_admission_refused).
IN_FLIGHT, IN_FLIGHT_BYTES, PIPELINED = "in_flight", "in_flight_bytes", "pipelined"
_REFUSED = {reason: REFUSED.labels(reason) for reason in (IN_FLIGHT, IN_FLIGHT_BYTES, PIPELINED)}


def _answer(status: bytes, code: str, detail: str, *extra: bytes) -> bytes:
    body = orjson.dumps({"detail": detail, "code": code})
    head = [b"HTTP/1.1 " + status, b"content-type: application/json", *extra]
    head.append(b"content-length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


BUSY = _answer(
    b"503 Service Unavailable",
    "unavailable",
    "the server is at capacity; retry after 1 second",
    b"retry-after: 1",
)


BUSY_CLOSE = BUSY.replace(b"retry-after: 1", b"retry-after: 1\r\nconnection: close", 1)


def _timed_out(part: str) -> bytes:
    return _answer(
        b"408 Request Timeout",
        "request_timeout",
        f"the request's {part} did not arrive in time; the connection is closed",
        b"connection: close",
    )


# What GET /api/v1/health answers (app/api/health.py), written here without an ASGI task.
HEALTHY = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n" + (
    orjson.dumps({"status": "ok"})
)
HEADER_TIMED_OUT = _timed_out("headers")
BODY_TIMED_OUT = _timed_out("body")


@dataclass
class Admission:
    """Limits and counters shared by every connection of one server.

    - **In-flight bound** (`max_in_flight`, 64): a request counts from its headers until its
      answer is complete (or its task ends, or its connection is lost). Past the bound it gets
      503 + `Retry-After: 1` with the usual JSON error body at once. More in flight buys no
      throughput once the core is busy, only waiting (Little's law: 128 in flight at ~1,000/s
      answered in ~130 ms; 64 concurrent clients already give the largest group commits
      measured). The dashboard's live streams (`/live/…`, open for minutes) never count;
      WebSocket upgrades are not HTTP requests here and pass through.
    - **In-flight bytes** (`max_in_flight_bytes`, 1 MiB): the bodies the admitted requests
      announce (Content-Length) add up to at most this. A request's work grows with its body
      (one event: ~250 µs; a batch of 100: ~5-10 ms), so a count alone would let 64 batches of
      1000 events queue for seconds. 1 MiB is ~1,000 events in flight, ~100 ms of work. A body
      counts for at most a quarter of it, and a request is always admitted when nothing else is
      in flight, so a large batch is never starved.
    - **Waiting** (at most one per connection, `max_in_flight` in all): a pipelined request
      behind its connection's running one takes no slot until its turn comes (refused then if
      none is free). Counting it as in flight left slots idle: with 64 pipelined connections
      at 2x capacity, goodput 0.53x with both counted, 0.66-0.8x with the second refused.
    """

    max_in_flight: int
    max_in_flight_bytes: int = 1024 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 5.0
    in_flight: int = 0
    waiting: int = 0  # requests admitted behind another of their connection (no slot yet)
    in_flight_bytes: int = 0  # announced body sizes of the requests in flight
    # Refusals not yet added to the metrics: all of them, and those of two reasons (the rest
    # are IN_FLIGHT). Added by `report`, once per read rather than once per refusal: the
    # common refusal is an attribute increment (app/http_protocol.py's `skimmed`).
    shed: int = 0
    shed_pipelined: int = 0
    shed_bytes: int = 0
    unlogged: int = 0  # refusals since the last log line
    logged_at: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Admission:
        """The limits and timeouts `settings` names (`phospho serve`)."""
        return cls(
            max_in_flight=settings.max_in_flight,
            max_in_flight_bytes=settings.max_in_flight_bytes,
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            idle_timeout=settings.idle_timeout,
        )

    def note_shed(self, now: float, reason: str = IN_FLIGHT) -> None:
        """Count a refusal; at most one log line every LOG_EVERY seconds."""
        self.shed += 1
        if reason == PIPELINED:
            self.shed_pipelined += 1
        elif reason == IN_FLIGHT_BYTES:
            self.shed_bytes += 1
        self.report(now)

    def report(self, now: float) -> None:
        """Add the refusals counted so far to the metrics; log them if the last line is
        LOG_EVERY seconds old."""
        if self.shed:
            pipelined, size = self.shed_pipelined, self.shed_bytes
            for reason, count in ((PIPELINED, pipelined), (IN_FLIGHT_BYTES, size),
                                  (IN_FLIGHT, self.shed - pipelined - size)):  # fmt: skip
                if count:
                    _REFUSED[reason].inc(count)
            self.unlogged += self.shed
            self.shed = self.shed_pipelined = self.shed_bytes = 0
        if self.unlogged and now - self.logged_at >= LOG_EVERY:
            log.warning(
                "at capacity: answered 503 to %d request(s) since the last report "
                "(in flight: %d, limit %d)",
                self.unlogged,
                self.in_flight,
                self.max_in_flight,
            )
            self.unlogged = 0
            self.logged_at = now


def body_size(headers: list[tuple[bytes, bytes]]) -> int:
    """The body size a request announces; a chunked body counts as UNKNOWN_BODY bytes."""
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else UNKNOWN_BODY
        if name == b"transfer-encoding":
            return UNKNOWN_BODY
    return 0


class Refuser(Protocol):
    """What the skimmer needs of its protocol."""

    def skimmed(self, url: bytes) -> None:
        """A request's headers were read: answer it (refused, or a health check)."""


class Skimmer:
    """Callbacks of a second httptools parser that a connection feeds instead of uvicorn's
    while it cannot be admitted anything (see AdmissionProtocol.data_received). It asks for
    no header and no body and builds no scope: 4 small Python calls per request instead of
    ~10. `phase` (0 between requests, 1 in headers, 2 in a body) and `began` (a request
    started in this read) let the protocol set the read deadline once per read."""

    __slots__ = ("began", "phase", "protocol", "url")

    def __init__(self, protocol: Refuser) -> None:
        self.protocol = protocol
        self.url = b""
        self.phase = 0
        self.began = False

    def on_message_begin(self) -> None:
        """A request starts."""
        self.phase = 1
        self.began = True
        self.url = b""

    def on_url(self, url: bytes) -> None:
        """Part of the request's target."""
        self.url += url

    def on_headers_complete(self) -> None:
        """Its headers are read: the protocol answers it."""
        self.phase = 2
        self.protocol.skimmed(self.url)

    def on_message_complete(self) -> None:
        """Its body is read past."""
        self.phase = 0
