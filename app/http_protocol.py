"""The HTTP/1.1 protocol `phospho serve` runs: uvicorn's httptools protocol plus admission
control and read timeouts, where they are cheapest (before any ASGI task exists).

Why here and not in an ASGI middleware: under overload most requests must be refused, and a
refusal must cost next to nothing or refusing eats the core that should serve the rest. One
accepted single-event request costs ~250-300 µs of CPU. Answering a 503 from an ASGI app, or
with uvicorn's own `limit_concurrency` (plain text, no Retry-After, a warning logged per
request), still builds a cycle and a task per request: ~60 µs each in-process. Here a refusal
is the parser's callbacks and a pre-encoded answer written together with its neighbours; a
read that can only be refused goes to a second, lean parser (app/admission.py's Skimmer):
~3.5 µs of Python per pipelined refusal in-process (~4.5 µs through uvicorn's callbacks;
httptools alone ~1.2 µs), ~8 µs of server CPU per refusal end to end over loopback.

What it adds to uvicorn 0.54's `HttpToolsProtocol` (pinned in pyproject.toml; tests/
test_admission*.py hold it to this):
- **The in-flight bounds** (`max_in_flight` requests, `max_in_flight_bytes` of announced
  bodies): past either, 503 + `Retry-After: 1` at once. Their reasons and numbers are in
  app/admission.py (`Admission`).
- **Health**: `GET /api/v1/health` is answered here, at once, without a task: under overload
  it would otherwise wait behind every admitted request's work in the event loop's queue.
- **Pipelining** is bounded per connection: uvicorn answers a connection's requests one after
  the other. One request of a connection is worked on (it holds an in-flight slot) and at most
  one more waits behind it without a slot (at most `max_in_flight` wait in all); it takes the
  slot its predecessor gives back, so a pipelining connection never leaves its slot idle for
  a round trip, and a waiting request never holds a slot doing nothing. Later requests get 503
  (answered in order, after the ones before them). Reading pauses while answers are owed and
  resumes only when none is, and a read is at most READ_SIZE, so one connection never holds
  more than one read of parsed requests. uvicorn itself resumed reading after every answer
  and on every body read, and admitted everything it parsed: a pipelining client at 10x
  capacity grew the server to gigabytes (issue 17).
- **Read timeouts** and when a connection is read at all: app/http_flow.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from app.admission import (
    BUSY,
    BUSY_CLOSE,
    EXEMPT_PREFIXES,
    HEALTH,
    HEALTHY,
    IN_FLIGHT,
    IN_FLIGHT_BYTES,
    PIPELINED,
    READ_SIZE,
    READY,
    REFUSAL_HOLD,
    Admission,
    Skimmer,
    body_size,
)
from app.http_flow import Flow, ReadDeadlines
from app.instruments import HEALTH_CHECKS

log = logging.getLogger("phospho.admission")


_READ_BUFFER = memoryview(bytearray(READ_SIZE))


class AdmissionProtocol(ReadDeadlines, HttpToolsProtocol, asyncio.BufferedProtocol):
    """See the module's docstring. `admission` is set by `protocol_factory`.

    A pipeline entry `(None, answer)` stands for a request answered here (refused, or a health
    check): its bytes are written when its turn comes, after the answers owed before it.
    """

    admission: Admission

    # Reads of at most READ_SIZE: uvloop reads 256 KiB into a plain Protocol, and a read is
    # parsed in one go, so under pipelined overload one loop iteration parsed 64 connections x
    # ~230 requests (~45 ms) before a health check could be answered. One buffer serves every
    # connection: uvloop fills it and calls buffer_updated before it reads anything else.
    def get_buffer(self, sizehint: int) -> memoryview:
        return _READ_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(_READ_BUFFER[:nbytes].tobytes())

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow: Flow = Flow(self.transport, self)
        self._admitted = 0  # this connection's requests counted in admission.in_flight
        self._running: RequestResponseCycle | None = None
        self._in_message = False  # uvicorn's parser is inside a request
        # The parser is inside a request already answered (refused, or a health check): what
        # follows of it (its body) is dropped.
        self._skipping = False
        self._skimmer = Skimmer(self)
        self._skim_parser = httptools.HttpRequestParser(self._skimmer)
        self._out: list[bytes] | None = None  # answers written once data_received is done
        self._deadline: float | None = None
        self._deadline_kind = ""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._now = self.loop.time()
        self._set_deadline(self.admission.idle_timeout, "idle")

    # Reading: like uvicorn's, except that bytes which start no request do not keep an idle
    # connection open, answers made here in one read are written together, and a read that
    # can only be refused goes to the skimmer.
    def data_received(self, data: bytes) -> None:
        self._now = self.loop.time()  # the deadlines of the requests in this read start here
        self._out = []
        try:
            if self._skimmer.phase or self._only_refusals(data):
                self._skim(data)
                if self._out and not self.transport.is_closing():
                    # Refused: the connection's next requests are read together in
                    # REFUSAL_HOLD, so that each read and write serves several refusals.
                    self.flow.hold(self.loop, REFUSAL_HOLD)
            else:
                super().data_received(data)
        finally:
            self._flush_out()
            self._out = None

    def _only_refusals(self, data: bytes) -> bool:
        """Whether every request of this read will be refused (or is a health check): uvicorn's
        parser is between requests, no slot may be given to this connection before the read is
        parsed (slots come back only between reads), and nothing exempt or upgrading is in it."""
        if self._in_message:
            return False
        admission = self.admission
        if self._admitted == 0:
            if admission.in_flight < admission.max_in_flight:
                return False
        elif self._admitted == 1 and admission.waiting < admission.max_in_flight:
            return False
        exempt = b"/live/" in data or READY in data
        return not exempt and b"pgrade" not in data and b"PGRADE" not in data

    def _skim(self, data: bytes) -> None:
        skimmer = self._skimmer
        phase, skimmer.began = skimmer.phase, False
        try:
            self._skim_parser.feed_data(data)
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
            return
        self.admission.report(self._now)
        # Every request of one read shares its clock reading: only where the read left off
        # moves the deadline (a request's headers, then its body, each from its own start).
        if skimmer.phase == 1 and (skimmer.began or phase != 1):
            self._set_deadline(self.admission.header_timeout, "header")
        elif skimmer.phase == 2 and (skimmer.began or phase != 2):
            self._set_deadline(self.admission.body_timeout, "body")
        elif skimmer.phase == 0:
            if self._owed():
                self._deadline = None
            else:
                self._set_deadline(self.admission.idle_timeout, "idle")

    def skimmed(self, url: bytes) -> None:
        """A skimmed request's headers are read: a health check is answered, the rest refused."""
        if self.transport.is_closing():
            return
        if url.startswith(HEALTH) and url.split(b"?", 1)[0] == HEALTH:
            if self._skim_parser.get_method() == b"GET":
                HEALTH_CHECKS.inc()
                self._answer_here(self._dated(HEALTHY))
                return
        out = self._out
        if out is not None and not self._owed() and self._skim_parser.should_keep_alive():
            # The common case, inlined; counted and logged once per read (_skim's report).
            self.admission.shed += 1
            if self._admitted:
                self.admission.shed_pipelined += 1
            out.append(BUSY)
            return
        self._refuse(self._skim_parser.should_keep_alive(),
                     PIPELINED if self._admitted else IN_FLIGHT)  # fmt: skip

    def _flush_out(self) -> None:
        """Write the answers gathered so far (before anything else is written)."""
        if self._out and not self.transport.is_closing():
            self.transport.write(b"".join(self._out))
        if self._out is not None:
            self._out.clear()

    def send_400_response(self, msg: str) -> None:
        self._flush_out()  # the 400 answers a request after the refused ones
        super().send_400_response(msg)

    def handle_websocket_upgrade(self) -> None:
        self._flush_out()
        self._deadline = None  # the WebSocket protocol owns the connection from now on
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().handle_websocket_upgrade()

    def _unset_keepalive_if_required(self) -> None:
        pass  # uvicorn's keep-alive timer is replaced by the deadline below

    # uvicorn's parser callbacks.
    def on_message_begin(self) -> None:
        self._in_message = True
        super().on_message_begin()
        self._set_deadline(self.admission.header_timeout, "header")

    def on_headers_complete(self) -> None:
        if self.transport.is_closing():  # refused with `Connection: close` earlier in this read
            self._skipping = True
            return
        self._set_deadline(self.admission.body_timeout, "body")
        path = self.url.split(b"?", 1)[0]
        if path == HEALTH and self.parser.get_method() == b"GET":
            self._skipping = True  # answered: what follows of the request is dropped
            HEALTH_CHECKS.inc()
            self._answer_here(self._dated(HEALTHY))
            return
        if path.startswith(EXEMPT_PREFIXES) or (
            self.parser.should_upgrade() and self._should_upgrade()
        ):
            super().on_headers_complete()
            return
        refused = self._admit()
        if refused is None:
            return
        self._skipping = True
        self._refuse(self.parser.should_keep_alive(), refused)

    def _admit(self) -> str | None:
        """Start this request, or let it wait behind its connection's running one, if the
        bounds allow it; None if they did, else why not (admission's reason)."""
        admission = self.admission
        if self._admitted == 0:
            if admission.in_flight >= admission.max_in_flight:
                return IN_FLIGHT
            slot = True
        elif self._admitted == 1 and admission.waiting < admission.max_in_flight:
            slot = False  # it takes a slot when its turn comes (on_response_complete)
        else:
            return PIPELINED
        # A body counts for at most a quarter of the budget: a large batch is still let in
        # next to a few other requests instead of waiting for an idle server.
        size = min(body_size(self.headers), admission.max_in_flight_bytes // 4)
        if admission.in_flight_bytes and (
            admission.in_flight_bytes + size > admission.max_in_flight_bytes
        ):
            return IN_FLIGHT_BYTES
        super().on_headers_complete()
        if slot:
            admission.in_flight += 1
        else:
            admission.waiting += 1
        admission.in_flight_bytes += size
        self._admitted += 1
        self.cycle.admitted = size  # type: ignore[attr-defined]
        self.cycle.slot = slot  # type: ignore[attr-defined]
        return None

    def on_body(self, body: bytes) -> None:
        if not self._skipping:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_message = False
        self._deadline = None  # nothing more to read until the answer is sent
        if self._skipping:
            self._skipping = False
            if not self._owed():
                self._set_deadline(self.admission.idle_timeout, "idle")
            return
        super().on_message_complete()

    # Answers made here.
    def _owed(self) -> bool:
        """Whether an answer is still owed to an earlier request of this connection."""
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _answer_here(self, answer: bytes) -> None:
        """Write `answer` now, or when the answers owed before it are written."""
        if self._owed():
            self.pipeline.appendleft((None, answer))  # type: ignore[arg-type]
            self.flow.pause_reading()
        elif self._out is not None:
            self._out.append(answer)
        else:  # pragma: no cover (parser callbacks only run inside data_received)
            self.transport.write(answer)

    def _refuse(self, keep_alive: bool, reason: str) -> None:
        """503 + Retry-After; closed after it when the client asked (`Connection: close`)."""
        self.admission.note_shed(self._now, reason)
        if keep_alive:
            self._answer_here(BUSY)
        elif self._owed():
            self.pipeline.appendleft((None, BUSY_CLOSE))  # type: ignore[arg-type]
            self.flow.pause_reading()
        else:
            self._flush_out()
            self.transport.write(BUSY_CLOSE)
            self.transport.close()

    def _dated(self, answer: bytes) -> bytes:
        """`answer` with uvicorn's default headers (Date, Server) after its status line; the
        503s go without (RFC 9110 makes Date optional on 5xx) to stay cheapest."""
        status, rest = answer.split(b"\r\n", 1)
        defaults = self.server_state.default_headers
        extra = b"".join(name + b": " + value + b"\r\n" for name, value in defaults)
        return status + b"\r\n" + extra + rest

    # Requests run by the app.
    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        task = self.loop.create_task(cycle.run_asgi(app))
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(lambda _: self._release(cycle))
        self.tasks.add(task)
        self._running = cycle

    def _release(self, cycle: RequestResponseCycle | None) -> None:
        """Take a request out of the in-flight count (once, whichever event comes first)."""
        size = getattr(cycle, "admitted", None)
        if size is not None:
            cycle.admitted = None  # type: ignore[union-attr]
            if cycle.slot:  # type: ignore[union-attr]
                self.admission.in_flight -= 1
            else:
                self.admission.waiting -= 1
            self.admission.in_flight_bytes -= size
            self._admitted -= 1

    def on_response_complete(self) -> None:
        self._release(self._running)
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        answers: list[bytes] = []
        while self.pipeline:
            cycle, app = self.pipeline.pop()
            if cycle is not None and self._take_slot(cycle):
                self._start_asgi_task(cycle, app)
                break
            # An answer made here, or a waiting request that found no slot free.
            answer = app if cycle is None else BUSY if cycle.keep_alive else BUSY_CLOSE
            answers.append(answer)
            if answer is BUSY_CLOSE:  # the last answer of this connection
                self.transport.write(b"".join(answers))
                self.transport.close()
                return
        if answers:
            self.transport.write(b"".join(answers))
        if not self._owed() and self._deadline is None:
            self._now = self.loop.time()
            self._set_deadline(self.admission.idle_timeout, "idle")
        self.flow.resume_reading()

    def _take_slot(self, cycle: RequestResponseCycle) -> bool:
        """A request that waited behind another takes an in-flight slot now that its turn has
        come; whether it could. The request before it has just given its slot back, so it
        almost always can; if not, it is refused now, and what is left of its body dropped."""
        if getattr(cycle, "slot", True):
            return True
        admission = self.admission
        if admission.in_flight < admission.max_in_flight:
            admission.waiting -= 1
            admission.in_flight += 1
            cycle.slot = True  # type: ignore[attr-defined]
            return True
        self._release(cycle)
        admission.note_shed(self.loop.time())
        cycle.response_complete = True  # the parser drops the rest of it (on_body, ...)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.flow.cancel()
        for cycle, _ in self.pipeline:
            self._release(cycle)
        self.pipeline.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)


def protocol_factory(admission: Admission) -> type[asyncio.Protocol]:
    """A protocol class bound to `admission`: what uvicorn's `http=` option takes."""
    return type("PhosphoHttpProtocol", (AdmissionProtocol,), {"admission": admission})
