"""Write backends: run one write plan (see `store.py`) as one durable transaction.

SQLite: the writer owns a dedicated connection on a dedicated thread, and a whole transaction
(every statement, then the fsync of COMMIT) runs in one call there. Awaiting each statement
through the event loop instead made the commit cycle wait behind HTTP work many times per
transaction, which capped throughput far below what the disk allows.

PostgreSQL: the plan's operations are awaited on the Tortoise (asyncpg) pool, in a transaction.

`failure_of` tells the writer which failures a retry can get past (see its comment).
"""

from __future__ import annotations

import asyncio
import enum
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db import WRITER, DatabaseConfigError, dialect_of, sqlite_path
from app.services.sql import POSTGRES, SQLITE, Dialect
from app.services.store import Plan, Query

T = TypeVar("T")
log = logging.getLogger("phospho.writer")
# How often the SQLite writer checkpoints beside itself (its automatic checkpoint is off).
CHECKPOINT_SECONDS = 1.0


class WriteBackend(Protocol):
    """Runs a plan in one transaction; IntegrityError when a constraint refuses it."""

    dialect: Dialect

    async def open(self) -> None:
        """Connect."""

    async def close(self) -> None:
        """Disconnect."""

    async def ping(self) -> None:
        """Check that the connection answers (GET /api/v1/ready), as cheaply as possible."""

    async def run(self, plan: Callable[[], Plan[T]]) -> T:
        """Run the plan made by `plan()` in one transaction and commit it."""

    async def trial(self, plan: Callable[[], Plan[T]]) -> T:
        """Run the plan made by `plan()` in one transaction and roll it back (no fsync): does
        it fail, and with what?"""

    async def run_each(self, plans: Sequence[Callable[[], Plan[T]]]) -> list[T | Exception]:
        """Run each plan in its own savepoint of one transaction, and commit: a plan that
        fails is rolled back alone (its error in its place), the others commit together."""

    async def checkpoint(self) -> None:
        """Copy what the write-ahead log holds into the database file now, beside the writer
        (SQLite; nothing to do on PostgreSQL). A bulk writer that dirties many distinct pages
        (a retention sweep) calls it after each chunk, so that it pays for writing those pages
        back in its own paced time instead of an ingest commit paying for it in one
        automatic checkpoint of a thousand pages."""


class SqliteWriteBackend:
    """One connection, one thread: the single writer SQLite wants."""

    dialect = SQLITE

    def __init__(self, path: str) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="phospho-writer")
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        # `checkpoint`: its own connection and thread, so that the writer commits meanwhile.
        self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="phospho-ckpt")
        self._checkpoint_conn: sqlite3.Connection | None = None
        # The writer's routine checkpoints (see `_after_commit`): when the last one was
        # started, and whether one is running.
        self._checkpointed_at = 0.0
        self._checkpointing = False
        self.checkpoint_seconds = CHECKPOINT_SECONDS

    async def open(self) -> None:
        """Claim the database for this process, then connect on the writer thread."""
        self._lock_fd = claim_sqlite_writer(self._path)
        await self._call(self._open)

    async def close(self) -> None:
        """Close the connection, stop the thread and release the claim."""
        await self._call(self._close)
        self._thread.shutdown(wait=True)
        self._checkpointer.submit(self._close_checkpointer).result()
        self._checkpointer.shutdown(wait=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None

    async def ping(self) -> None:
        """Take the write lock and let it go, on the writer thread: what a commit needs first,
        behind the transaction running there (if any); no fsync."""
        await self._call(self._ping)

    async def run(self, plan: Callable[[], Plan[T]]) -> T:
        """Run the whole transaction on the writer thread."""
        return await self._call(lambda: self._transaction(plan()))

    async def trial(self, plan: Callable[[], Plan[T]]) -> T:
        """Run the whole transaction on the writer thread, then roll it back."""
        return await self._call(lambda: self._transaction(plan(), commit=False))

    async def run_each(self, plans: Sequence[Callable[[], Plan[T]]]) -> list[T | Exception]:
        """Each plan in its own savepoint of one transaction, on the writer thread."""
        return await self._call(lambda: self._run_each(plans))

    async def checkpoint(self) -> None:
        """A PASSIVE checkpoint on a connection and thread of its own: it copies the frames
        no reader still needs and never waits for, nor blocks, the writer (a checkpoint
        already running, such as the writer's automatic one, makes it a no-op)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._checkpointer, self._checkpoint)

    def _checkpoint(self) -> None:
        if self._checkpoint_conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=FULL")  # the copy is synced like the commits
            self._checkpoint_conn = conn
        self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _close_checkpointer(self) -> None:
        if self._checkpoint_conn is not None:
            self._checkpoint_conn.close()
            self._checkpoint_conn = None

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    def _open(self) -> None:
        self._checkpointed_at = time.monotonic()  # the first routine checkpoint after a while
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        for pragma in (
            "busy_timeout=10000",
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            # Statement journals (a multi-row INSERT or upsert after the transaction's first
            # write keeps one, to undo that statement alone) in memory, not in a temp file
            # created and unlinked for each: 2-3 per commit, ~10 system calls and the pages'
            # copies each (strace), ~270 µs of CPU per commit of 16 single events. A
            # transaction's durability is the WAL's, never a statement journal's.
            "temp_store=MEMORY",
            # No automatic checkpoint inside a COMMIT: see `_after_commit`.
            "wal_autocheckpoint=0",
        ):
            conn.execute(f"PRAGMA {pragma}")
        self._conn = conn

    def _ping(self) -> None:
        conn = self._conn
        if conn is None:
            raise sqlite3.ProgrammingError("the writer's connection is closed")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _transaction(self, plan: Plan[T], *, commit: bool = True) -> T:
        conn = self._conn
        assert conn is not None, "write backend not opened"
        # IMMEDIATE takes the write lock up front: no deadlock with another writer (the CLI).
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = _drive_sync(conn, plan)
            conn.execute("COMMIT" if commit else "ROLLBACK")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError):
                raise IntegrityError(str(exc)) from exc
            raise
        if commit:
            self._after_commit()
        return result

    def _after_commit(self) -> None:
        """Start a PASSIVE checkpoint beside the writer, at most every `checkpoint_seconds`.

        SQLite's automatic checkpoint runs inside the COMMIT that takes the write-ahead log
        past 1,000 pages: that commit copies the pages back to the database file and syncs it
        while the group's requests, and those queued behind it, wait. Measured here (1,500
        commits of 8 events, WAL + FULL, two runs each): commit p99 4.5 and 9.1 ms with it,
        3.5 and 4.9 ms with this instead; the longest commit was 9-28 ms with it and 13-77 ms
        without (the side checkpoint's sync shares the disk). So this trims the tail, but it
        was not the 100-185 ms pauses of issue 24 (see the live report)."""
        now = time.monotonic()
        if self._checkpointing or now - self._checkpointed_at < self.checkpoint_seconds:
            return
        self._checkpointing = True
        self._checkpointed_at = now
        self._checkpointer.submit(self._routine_checkpoint)

    def _routine_checkpoint(self) -> None:
        try:
            self._checkpoint()
        except sqlite3.Error as exc:  # e.g. the database is being closed: the next one retries
            log.warning("a routine checkpoint failed: %s", exc)
        finally:
            self._checkpointing = False

    def _run_each(self, plans: Sequence[Callable[[], Plan[T]]]) -> list[T | Exception]:
        conn = self._conn
        assert conn is not None, "write backend not opened"
        results: list[T | Exception] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for plan in plans:
                conn.execute("SAVEPOINT job")
                try:
                    results.append(_drive_sync(conn, plan()))
                except Exception as exc:
                    conn.execute("ROLLBACK TO SAVEPOINT job")
                    integrity = isinstance(exc, sqlite3.IntegrityError)
                    results.append(IntegrityError(str(exc)) if integrity else exc)
                else:
                    conn.execute("RELEASE SAVEPOINT job")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._after_commit()
        return results


def claim_sqlite_writer(path: str) -> int:
    """Hold an exclusive lock beside the SQLite file for as long as this process serves it.

    SQLite has one writer: a second server process (another `phospho serve`, or uvicorn
    workers) would make the two group-commit writers queue behind each other's locks. The lock
    dies with the process, `kill -9` included. CLI commands do not take it.
    """
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatabaseConfigError(
            f"another phospho server is already serving {path}; SQLite allows one server "
            "process (use PostgreSQL to run several)"
        ) from None
    return fd


class _Done(Generic[T]):
    """What a plan returned (`_step`)."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


def _step(plan: Plan[T], reply: Any) -> Query | _Done[T]:
    """The plan's next statement, given the rows of the one before, or what it returned."""
    try:
        return plan.send(reply)
    except StopIteration as done:
        return _Done(done.value)


def _drive_sync(conn: sqlite3.Connection, plan: Plan[T]) -> T:
    step = _step(plan, None)
    while not isinstance(step, _Done):
        step = _step(plan, [dict(row) for row in conn.execute(step.sql, step.params).fetchall()])
    return step.value


class PostgresWriteBackend:
    """The Tortoise asyncpg pool; each operation awaited inside one transaction."""

    dialect = POSTGRES

    async def open(self) -> None:
        """Nothing to do: the pool is opened by `init_orm`."""

    async def close(self) -> None:
        """Nothing to do: the pool is closed by `close_orm`."""

    async def ping(self) -> None:
        """One trivial statement on a pooled connection."""
        await connections.get(WRITER).execute_query("SELECT 1")

    async def run(self, plan: Callable[[], Plan[T]]) -> T:
        """Run the plan in a transaction on one pooled connection."""
        async with in_transaction(WRITER) as tx:
            return await _drive_async(tx, plan())

    async def trial(self, plan: Callable[[], Plan[T]]) -> T:
        """Run the plan in a transaction on one pooled connection, then roll it back."""
        try:
            async with in_transaction(WRITER) as tx:
                raise _RolledBack(await _drive_async(tx, plan()))
        except _RolledBack as done:
            return done.result  # type: ignore[no-any-return]

    async def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL's checkpointer spreads its writes by itself."""

    async def run_each(self, plans: Sequence[Callable[[], Plan[T]]]) -> list[T | Exception]:
        """Run each plan in its own savepoint of one transaction, and commit: a plan that
        fails is rolled back alone (its error in its place), the others commit together."""
        results: list[T | Exception] = []
        async with in_transaction(WRITER) as tx:
            for plan in plans:
                await tx.execute_query("SAVEPOINT job")
                try:
                    results.append(await _drive_async(tx, plan()))
                except Exception as exc:
                    await tx.execute_query("ROLLBACK TO SAVEPOINT job")
                    results.append(exc)
                else:
                    await tx.execute_query("RELEASE SAVEPOINT job")
        return results


class _RolledBack(Exception):
    """Leaves a transaction (which rolls it back) with the plan's result."""

    def __init__(self, result: Any) -> None:
        super().__init__("rolled back on purpose")
        self.result = result


async def _drive_async(conn: BaseDBAsyncClient, plan: Plan[T]) -> T:
    step = _step(plan, None)
    while not isinstance(step, _Done):
        # execute_query_dict fetches what any statement returns; execute_query drops what an
        # INSERT … RETURNING returns (the sessions upsert reports the sessions it created).
        step = _step(plan, await conn.execute_query_dict(step.sql, step.params))
    return step.value


class Failure(enum.Enum):
    """What a failed write transaction means for its jobs."""

    CONFLICT = "conflict"  # lost a race with another transaction: running it again can succeed
    TRANSIENT = "transient"  # the database is busy or out of reach: 503, retry after a while
    FAULT = "fault"  # anything else: the jobs themselves, or a bug; retrying will not help


# How both drivers' errors are classified (the exception and what it was raised from: Tortoise
# wraps asyncpg's errors in its own, `from` the original).
# - sqlite3, by the primary result code (`sqlite_errorcode` & 0xFF, Python 3.11+): BUSY and
#   LOCKED (another writer, e.g. `phospho rollups rebuild`, held the lock past busy_timeout),
#   IOERR, FULL (disk), CANTOPEN, NOMEM and PROTOCOL are transient. Everything else (SQL errors,
#   CORRUPT, READONLY, MISMATCH, TOOBIG, CONSTRAINT) is a fault, and so are Python's own errors
#   binding a value (OverflowError for an integer past 64 bits, InterfaceError).
# - asyncpg, by SQLSTATE: class 40 (40001 serialization failure, 40P01 deadlock) is a conflict;
#   class 08 (connection exception), 53 (insufficient resources: disk full, out of memory, too
#   many connections), 57P01-57P03 (shutdown, cannot connect now), 57014 (statement timeout),
#   55P03 (lock not available) and 58 (system error: I/O) are transient, as are OSError
#   (refused, reset, unreachable, TimeoutError) and asyncpg's "connection is closed". Everything
#   else (class 22 data errors such as NUL in text or a value out of range, 23 constraint
#   violations, 42 syntax or undefined objects, asyncpg's DataError for a parameter it cannot
#   encode) is a fault.
_SQLITE_TRANSIENT = {
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL,
}  # fmt: skip
_PG_TRANSIENT_CLASSES = ("08", "53", "58")
_PG_TRANSIENT_STATES = {"57P01", "57P02", "57P03", "57014", "55P03"}


def failure_of(error: BaseException) -> Failure:
    """Classify a failed write transaction's error (see the comment above)."""
    for exc in _causes(error):
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in _SQLITE_TRANSIENT:
                return Failure.TRANSIENT
        elif isinstance(exc, asyncpg.PostgresError):
            state = str(getattr(exc, "sqlstate", "") or "")
            if state.startswith("40"):
                return Failure.CONFLICT
            if state[:2] in _PG_TRANSIENT_CLASSES or state in _PG_TRANSIENT_STATES:
                return Failure.TRANSIENT
        elif isinstance(exc, OSError) or (
            isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)
        ):
            return Failure.TRANSIENT
    return Failure.FAULT


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, then what it was raised from or during (a few levels at most)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def write_backend_for(url: str) -> WriteBackend:
    """The write backend for a database URL."""
    if dialect_of(url) == "sqlite":
        return SqliteWriteBackend(sqlite_path(url))
    return PostgresWriteBackend()
