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
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db import WRITER
from app.errors import PhosphoError, Unavailable

log = logging.getLogger("phospho.writer")

J = TypeVar("J")
# Given the transaction and the jobs, return one outcome per job: a result, or a PhosphoError.
CommitFn = Callable[[BaseDBAsyncClient, list[J]], Awaitable[list[Any]]]
AfterCommitFn = Callable[[list[J], list[Any]], None]

_STOP = object()


class GroupCommitWriter(Generic[J]):
    """Owns the write connection; serialises and batches every write transaction."""

    def __init__(
        self,
        commit: CommitFn[J],
        *,
        max_batch: int = 512,
        after_commit: AfterCommitFn[J] | None = None,
    ) -> None:
        self._commit = commit
        self._after_commit = after_commit
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        """Start the writer task (inside the running event loop)."""
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="phospho-group-commit")

    async def stop(self) -> None:
        """Commit everything already queued, then stop; later submissions get Unavailable."""
        self._closing = True
        if self._task is not None:
            self._queue.put_nowait(_STOP)
            await self._task
            self._task = None

    async def submit(self, job: J) -> Any:
        """Queue a job and wait until its transaction has committed; returns its result."""
        if self._closing or self._task is None:
            raise Unavailable("the server is shutting down; retry shortly")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((job, future))
        # shield: a client that disconnects must not cancel a commit that others share.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is _STOP:
                    self._queue.put_nowait(_STOP)
                    break
                batch.append(item)
            await self._commit_batch(batch)

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
        async with in_transaction(WRITER) as tx:
            outcomes = await self._commit(tx, jobs)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, PhosphoError):
                raise outcome
        return outcomes
