"""Group commit: one writer task turns every queued write into a single durable transaction.

Requests enqueue a job and wait. The writer takes everything that has queued, runs it in one
transaction (so one fsync covers many requests), then resolves each job's future with its own
outcome. A job that fails on its own (unknown event, revoked key…) gets its error without
affecting the others; if the whole transaction fails, each job is retried alone so that one bad
job cannot take its neighbours down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from tortoise.exceptions import IntegrityError

from app.errors import PhosphoError, Unavailable
from app.services.store import Dialect, Plan
from app.services.write_backends import WriteBackend

log = logging.getLogger("phospho.writer")

J = TypeVar("J")
# Given the jobs, a plan that returns one outcome per job: a result, or a PhosphoError.
PlanFn = Callable[[list[J], Dialect], Plan[list[Any]]]
AfterCommitFn = Callable[[list[J], list[Any]], None]

_STOP = object()
# Under load, how many event-loop iterations the writer may wait for requests that are being
# parsed to join the group. Measured at 16 connections: groups grow from 8 to 16 requests
# (clients no longer alternate between two half-groups), throughput +20%, latency lower.
GATHER_ITERATIONS = 8


class GroupCommitWriter(Generic[J]):
    """Owns the write connection; serialises and batches every write transaction."""

    def __init__(
        self,
        plan: PlanFn[J],
        *,
        max_batch: int = 512,
        after_commit: AfterCommitFn[J] | None = None,
    ) -> None:
        self._plan = plan
        self._backend: WriteBackend | None = None
        self._after_commit = after_commit
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.commits = 0  # transactions committed: a plan can tell whether the last one did
        # Events queued or being committed, and the most allowed (see limit_queue).
        self._queued_events = 0
        self._max_queued_events: int | None = None

    def limit_queue(self, max_events: int | None) -> None:
        """Refuse jobs (Unavailable, 503) while more than `max_events` events wait or commit.

        A job's size is its number of events (`len(job.events)`), else 1. A job is always taken
        when nothing waits, so one batch larger than the bound still gets through an idle writer.
        """
        self._max_queued_events = max_events

    async def start(self, backend: WriteBackend) -> None:
        """Open the backend and start the writer task (inside the running event loop)."""
        await backend.open()
        self._backend = backend
        self._closing = False
        self._last_group = 0
        self._task = asyncio.create_task(self._run(), name="phospho-group-commit")

    async def stop(self) -> None:
        """Commit everything already queued, then stop; later submissions get Unavailable."""
        self._closing = True
        if self._task is not None:
            self._queue.put_nowait(_STOP)
            await self._task
            self._task = None
        if self._backend is not None:
            await self._backend.close()
            self._backend = None

    async def submit(self, job: J) -> Any:
        """Queue a job and wait until its transaction has committed; returns its result."""
        if self._closing or self._task is None:
            raise Unavailable("the server is shutting down; retry shortly")
        size = len(getattr(job, "events", ())) or 1
        limit = self._max_queued_events
        if limit is not None and self._queued_events and self._queued_events + size > limit:
            raise Unavailable(
                f"the write queue is full ({self._queued_events} events waiting); retry shortly"
            )
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued_events += size
        future.add_done_callback(lambda _: self._dequeued(size))
        self._queue.put_nowait((job, future))
        # If the caller is cancelled, only this future is: the job stays queued and commits
        # (a client that retries with its event_id then gets the stored result).
        return await future

    def _dequeued(self, size: int) -> None:
        self._queued_events -= size

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is _STOP:
                return
            if self._last_group > 1:
                await self._gather()
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is _STOP:
                    self._queue.put_nowait(_STOP)
                    break
                batch.append(item)
            self._last_group = len(batch)
            await self._commit_batch(batch)

    async def _gather(self) -> None:
        """Let requests already in flight join the group: yield while the queue still grows.

        Only after a group of several requests (concurrent load): a lone client never waits.
        """
        size = self._queue.qsize()
        for _ in range(GATHER_ITERATIONS):
            await asyncio.sleep(0)
            if self._queue.qsize() == size:
                return
            size = self._queue.qsize()

    async def _commit_batch(self, batch: list[tuple[J, asyncio.Future[Any]]]) -> None:
        jobs = [job for job, _ in batch]
        try:
            outcomes = await self._transaction(jobs)
        except Exception:
            log.exception("group commit of %d jobs failed; retrying each alone", len(jobs))
            outcomes = [await self._commit_alone(job) for job in jobs]
        if self._after_commit is not None:
            try:
                self._after_commit(jobs, outcomes)
            except Exception:
                log.exception("after-commit hook failed")
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _commit_alone(self, job: J) -> Any:
        # Two tries: an IntegrityError can come from a concurrent process storing the same
        # client event id; the second try then sees that row and answers as a retry.
        for attempt in (1, 2):
            try:
                return (await self._transaction([job]))[0]
            except IntegrityError:
                if attempt == 2:
                    log.exception("job failed twice with an integrity error")
            except Exception:
                log.exception("job failed alone")
                break
        return Unavailable("the event could not be stored; retry with the same event_id")

    async def _transaction(self, jobs: list[J]) -> list[Any]:
        backend = self._backend
        assert backend is not None, "writer not started"
        outcomes = await backend.run(lambda: self._plan(jobs, backend.dialect))
        self.commits += 1
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, PhosphoError):
                raise outcome
        return outcomes
