"""When a connection of app/http_protocol.py is read: flow control and read deadlines.

- **Flow control** (`Flow`): reading pauses while answers are owed and resumes only when none
  is, and not while the connection is held after a refusal (app/admission.py, REFUSAL_HOLD).
- **Read timeouts** (`ReadDeadlines`): `header_timeout` from a request's first byte to the
  end of its headers; `body_timeout` from there to the end of its body (a Content-Length
  larger than what arrives is dropped then, and the app sees a disconnect: nothing stored);
  `idle_timeout` for a connection that starts no request, new or kept alive. Slow headers or
  body get 408 (when no other answer is owed first) and the connection is closed. One timer
  per connection, re-armed only when it fires early: a request only stores a deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Protocol

from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from app.admission import BODY_TIMED_OUT, HEADER_TIMED_OUT, Admission, Skimmer
from app.instruments import READ_TIMEOUTS

log = logging.getLogger("phospho.admission")


class Owing(Protocol):
    """What `Flow` needs of its protocol: the answers it still owes, in order."""

    @property
    def pipeline(self) -> Any:
        """uvicorn's queue of pipelined requests and answers made here."""


class Flow(FlowControl):
    """uvicorn's flow control, except that reading resumes only when no answer is owed, and
    not while the connection is held after a refusal (`hold`)."""

    def __init__(self, transport: asyncio.Transport, protocol: Owing) -> None:
        super().__init__(transport)
        self.protocol = protocol
        self.held: asyncio.TimerHandle | None = None

    def resume_reading(self) -> None:
        if not self.protocol.pipeline and self.held is None:
            super().resume_reading()

    def hold(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        """Read nothing more of this connection for `seconds`."""
        if self.held is None:
            self.pause_reading()
            self.held = loop.call_later(seconds, self._release)

    def _release(self) -> None:
        self.held = None
        if not self._transport.is_closing():
            self.resume_reading()

    def cancel(self) -> None:
        """The connection is gone: no timer left behind."""
        if self.held is not None:
            self.held.cancel()
            self.held = None


class ReadDeadlines:
    """The read deadlines of AdmissionProtocol (a mixin: it reads the protocol's state).
    One timer per connection; moving a deadline later costs a float."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    admission: Admission
    pipeline: deque[tuple[RequestResponseCycle, ASGI3Application]]
    cycle: RequestResponseCycle
    _now: float
    _deadline: float | None
    _deadline_kind: str
    _timer: asyncio.TimerHandle | None
    _timer_at: float
    _skipping: bool
    _skimmer: Skimmer
    _running: RequestResponseCycle | None

    def _dated(self, answer: bytes) -> bytes:
        raise NotImplementedError

    def _set_deadline(self, seconds: float, kind: str) -> None:
        """Set the connection's deadline `seconds` after `self._now` (the current read)."""
        deadline = self._now + seconds
        self._deadline = deadline
        self._deadline_kind = kind
        if self._timer is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self.loop.call_at(deadline, self._check_deadline)
            self._timer_at = deadline

    def _check_deadline(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self.transport.is_closing():
            return
        if self.loop.time() < deadline:
            self._timer = self.loop.call_at(deadline, self._check_deadline)
            self._timer_at = deadline
            return
        self._expire(self._deadline_kind)

    def _expire(self, kind: str) -> None:
        """A deadline passed: close the connection, with a 408 when that is the next answer."""
        if kind != "idle":
            if self._may_answer(kind):
                answer = HEADER_TIMED_OUT if kind == "header" else BODY_TIMED_OUT
                self.transport.write(self._dated(answer))
            log.debug("closed a connection whose request %s did not arrive in time", kind)
            READ_TIMEOUTS.labels(kind).inc()
        self.transport.close()

    def _may_answer(self, kind: str) -> bool:
        """Whether the request being read is the next one owed an answer and has none yet."""
        if self.pipeline or self._skipping or (self._skimmer.phase and kind == "body"):
            return False
        running = self._running
        if kind == "header":  # no cycle yet: only earlier requests may be owed an answer
            return running is None or running.response_complete
        return running is self.cycle and running is not None and not running.response_started
