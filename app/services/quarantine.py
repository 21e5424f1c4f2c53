"""Quarantine: the sources of failing writes commit in a lane of their own, and faults are
logged without flooding the log.

When a job fails as a server fault (`GroupCommitWriter._fault`), its source (its `source`
attribute: API key and project) is quarantined for QUARANTINE_SECONDS: its jobs then commit in
the lane (a task beside the writer's), each in a savepoint, so that its next failing job costs
the others no failed transaction and no trial run; while others' jobs wait, the lane takes at
most LANE_SHARE of the time. Measured with one client sending every kind of invalid input (a
quarter failing in the database) at 40% of another's throughput (test_poison_pill.py, on a
loaded 2-core machine): with bisection alone the other kept 41-47% of its throughput on SQLite
and 47-61% on PostgreSQL; with quarantine and the lane, 95-144% and 120-130% (more than 100%:
the failing client is slowed down, and loads the server less than a valid one).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger("phospho.writer")

QUARANTINE_SECONDS = 10.0
LANE_SHARE = 0.05  # see Quarantine._run
LANE_PAUSE_MAX = 0.5
# A fault's traceback is logged once a minute per kind (exception type and where it was
# raised); the repeats get one line. One client repeating a failing write at full speed made
# formatting tracebacks 15% of the event loop's time (~500 a second), and the log unreadable.
FAULT_TRACEBACK_SECONDS = 60.0
_traced: dict[tuple[str, str, int], float] = {}

J = TypeVar("J")
_STOP = object()


class Quarantine(Generic[J]):
    """The quarantined sources and their lane, of queued jobs with their futures. `commit`
    commits a part of the lane (each job in a savepoint) and answers it; `busy` says whether
    others' jobs wait."""

    def __init__(
        self,
        commit: Callable[[list[tuple[J, asyncio.Future[Any]]]], Awaitable[None]],
        *,
        busy: Callable[[], bool],
    ) -> None:
        self._commit = commit
        self._busy = busy
        self._suspects: dict[Any, float] = {}  # job source -> quarantined until (monotonic)
        self._lane: asyncio.Queue[Any] | None = None
        self._task: asyncio.Task[None] | None = None

    def suspect(self, source: Any) -> None:
        """Quarantine a source (None: a job without one) for QUARANTINE_SECONDS."""
        if source is None:
            return
        now = time.monotonic()
        if len(self._suspects) > 1000:  # forget the ones served
            self._suspects = {key: t for key, t in self._suspects.items() if t > now}
        self._suspects[source] = now + QUARANTINE_SECONDS

    def split(
        self, batch: list[tuple[J, asyncio.Future[Any]]]
    ) -> tuple[list[tuple[J, asyncio.Future[Any]]], list[tuple[J, asyncio.Future[Any]]]]:
        """The items of sources not quarantined, and those of quarantined ones."""
        now, suspects = time.monotonic(), self._suspects
        clean: list[tuple[J, asyncio.Future[Any]]] = []
        held: list[tuple[J, asyncio.Future[Any]]] = []
        for item in batch:
            source = getattr(item[0], "source", None)
            quarantined = source is not None and suspects.get(source, 0.0) > now
            (held if quarantined else clean).append(item)
        return clean, held

    def put(self, held: list[tuple[J, asyncio.Future[Any]]]) -> None:
        """Commit quarantined items in the lane, so that their failures never delay the next
        group of everyone else's: on PostgreSQL its transactions run side by side with the
        writer's, on SQLite between them."""
        if self._lane is None or self._task is None:
            self._lane = asyncio.Queue()
            self._task = asyncio.create_task(self._run(self._lane), name="phospho-lane")
        self._lane.put_nowait(held)

    async def close(self) -> None:
        """Let the lane commit what it holds, then stop it (when the writer stops)."""
        if self._lane is not None and self._task is not None:
            self._lane.put_nowait(_STOP)
            await self._task
        self._lane = self._task = None

    async def _run(self, lane: asyncio.Queue[Any]) -> None:
        """Commit what is queued in the lane, everything queued at once, until told to stop;
        while others' jobs wait, the lane takes at most LANE_SHARE of the time (its jobs cost
        the event loop ~1 ms each, a statement per round trip: unchecked, one client's
        failing jobs took 11% of it from the others)."""
        loop, stopping = asyncio.get_running_loop(), False
        while not stopping:
            batch: list[tuple[J, asyncio.Future[Any]]] = []
            for part in [await lane.get(), *(lane.get_nowait() for _ in range(lane.qsize()))]:
                if part is _STOP:
                    stopping = True
                else:
                    batch.extend(part)
            if batch:
                started = loop.time()
                await self._commit(batch)
                if not stopping and self._busy():
                    pause = (loop.time() - started) * (1 / LANE_SHARE - 1)
                    await asyncio.sleep(min(pause, LANE_PAUSE_MAX))


def log_fault(error: BaseException) -> None:
    """Log a server fault: with its traceback the first time in FAULT_TRACEBACK_SECONDS that
    this kind of fault happens, else as one line."""
    last = error.__traceback__
    while last is not None and last.tb_next is not None:
        last = last.tb_next
    where = (last.tb_frame.f_code.co_filename, last.tb_lineno) if last else ("", 0)
    kind, now = (type(error).__name__, *where), time.monotonic()
    if now - _traced.get(kind, -FAULT_TRACEBACK_SECONDS) >= FAULT_TRACEBACK_SECONDS:
        _traced[kind] = now
        log.error("a write failed on its own: a server fault", exc_info=error)
    else:
        log.error(
            "a write failed on its own: a server fault (%s: %s; its traceback was logged "
            "within the last %.0f s)", type(error).__name__, error, FAULT_TRACEBACK_SECONDS,
        )  # fmt: skip
