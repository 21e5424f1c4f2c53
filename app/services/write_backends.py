"""Write backends: run one write plan (see `store.py`) as one durable transaction.

SQLite: the writer owns a dedicated connection on a dedicated thread, and a whole transaction
(every statement, then the fsync of COMMIT) runs in one call there. Awaiting each statement
through the event loop instead made the commit cycle wait behind HTTP work many times per
transaction, which capped throughput far below what the disk allows.

PostgreSQL: the plan's operations are awaited on the Tortoise (asyncpg) pool, in a transaction.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db import WRITER, DatabaseConfigError, dialect_of, sqlite_path
from app.services.store import POSTGRES, SQLITE, Dialect, Plan

T = TypeVar("T")


class WriteBackend(Protocol):
    """Runs a plan in one transaction; IntegrityError when a constraint refuses it."""

    dialect: Dialect

    async def open(self) -> None:
        """Connect."""

    async def close(self) -> None:
        """Disconnect."""

    async def run(self, plan: Callable[[], Plan[T]]) -> T:
        """Run the plan made by `plan()` in one transaction and commit it."""


class SqliteWriteBackend:
    """One connection, one thread: the single writer SQLite wants."""

    dialect = SQLITE

    def __init__(self, path: str) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="phospho-writer")
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None

    async def open(self) -> None:
        """Claim the database for this process, then connect on the writer thread."""
        self._lock_fd = claim_sqlite_writer(self._path)
        await self._call(self._open)

    async def close(self) -> None:
        """Close the connection, stop the thread and release the claim."""
        await self._call(self._close)
        self._thread.shutdown(wait=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None

    async def run(self, plan: Callable[[], Plan[T]]) -> T:
        """Run the whole transaction on the writer thread."""
        return await self._call(lambda: self._transaction(plan()))

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    def _open(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        for pragma in (
            "busy_timeout=10000",
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
        ):
            conn.execute(f"PRAGMA {pragma}")
        self._conn = conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _transaction(self, plan: Plan[T]) -> T:
        conn = self._conn
        assert conn is not None, "write backend not opened"
        # IMMEDIATE takes the write lock up front: no deadlock with another writer (the CLI).
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = _drive_sync(conn, plan)
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError):
                raise IntegrityError(str(exc)) from exc
            raise
        return result


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


def _drive_sync(conn: sqlite3.Connection, plan: Plan[T]) -> T:
    reply: Any = None
    while True:
        try:
            op = plan.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        reply = [dict(row) for row in conn.execute(op.sql, op.params).fetchall()]


class PostgresWriteBackend:
    """The Tortoise asyncpg pool; each operation awaited inside one transaction."""

    dialect = POSTGRES

    async def open(self) -> None:
        """Nothing to do: the pool is opened by `init_orm`."""

    async def close(self) -> None:
        """Nothing to do: the pool is closed by `close_orm`."""

    async def run(self, plan: Callable[[], Plan[T]]) -> T:
        """Run the plan in a transaction on one pooled connection."""
        async with in_transaction(WRITER) as tx:
            return await _drive_async(tx, plan())


async def _drive_async(conn: BaseDBAsyncClient, plan: Plan[T]) -> T:
    reply: Any = None
    while True:
        try:
            op = plan.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        # execute_query_dict fetches what any statement returns; execute_query drops what an
        # INSERT … RETURNING returns (the sessions upsert reports the sessions it created).
        reply = await conn.execute_query_dict(op.sql, op.params)


def write_backend_for(url: str) -> WriteBackend:
    """The write backend for a database URL."""
    if dialect_of(url) == "sqlite":
        return SqliteWriteBackend(sqlite_path(url))
    return PostgresWriteBackend()
