"""Reading an export page by page, each page bounded in rows and in bytes.

A page is one statement (keyset order, `LIMIT`) whose row limit keeps its text near a byte
bound; the next page starts after the last row read. No
statement outlives its page, so a slow download holds no read snapshot open (which on SQLite
would stop checkpoints and let the WAL grow) and the memory an export holds is about one
page's text, however many events it lists.

- **SQLite**: the export opens a read-only connection of its own and reads each page in a
  thread of its own, as one value the database wrote and joined (`SqlitePages`); Python's
  sqlite3 releases the GIL while SQLite steps, so the event loop keeps serving ingest. The
  shared reader connection (app/db.py) is not used: its driver fetches rows one thread hop per
  call, and its lock would make every dashboard read wait behind a page.
- **PostgreSQL**: a page is fetched from the pool (no cursor across pages either); its row
  count starts at 16 and adapts so that a page of the largest rows seen so far stays near the
  byte bound (at most `max_rows`); a burst of far larger rows costs one page of them.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Protocol

from app.db import reader
from app.services.sql import Dialect

Key = tuple[Any, Any]  # the last row's (created_at, id), as the database returned them


class Encoder(Protocol):
    """Turns page rows (created_at, id, then the format's cells) into the file's bytes, or
    keeps pages of records the database wrote and joined with `separator`."""

    separator: bytes

    def add_block(self, block: bytes) -> None:
        """Keep a page of records (UTF-8, joined by `separator`, none after the last)."""

    def add(self, row: Sequence[Any]) -> int:
        """Encode one row; the characters it added."""

    def take(self) -> bytes:
        """The bytes encoded since the last call."""


# Line breaks to Python's str.splitlines (and to some editors) that JSON may hold raw inside a
# string: escaped, so that every reader sees one event per line. (JSON escapes C0 controls.)
UNICODE_BREAKS = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"), ("\x85", "\\u0085"))


class JsonLines:
    """Rows whose third cell is a JSON object's text: one line each; or whole pages of lines
    joined by the database (`add_block`)."""

    separator = b"\n"

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.blocks: list[bytes] = []

    def add_block(self, block: bytes) -> None:
        """Keep a page of lines (UTF-8, joined by newlines, none after the last)."""
        self.blocks.append(block)

    def add(self, row: Sequence[Any]) -> int:
        """Keep the row's line."""
        line: str = row[2]
        self.lines.append(line)
        return len(line) + 1

    def take(self) -> bytes:
        """The lines kept, each ended by a newline (UTF-8)."""
        if self.blocks:
            self.blocks.append(b"")
            data = b"\n".join(self.blocks)
            self.blocks = []
            if not data.isascii():
                for char, escaped in UNICODE_BREAKS:
                    data = data.replace(char.encode(), escaped.encode())
            return data
        if not self.lines:
            return b""
        self.lines.append("")
        text = "\n".join(self.lines)
        self.lines = []
        if not text.isascii():
            for char, escaped in UNICODE_BREAKS:  # str.replace: ~0.1 ms per MB and pass
                text = text.replace(char, escaped)
        return text.encode()


class CsvRows:
    """Rows whose cells from the third on are a CSV record (RFC 4180: quoted as needed, CRLF),
    after a header; or pages of records the database wrote (`add_block`)."""

    separator = b"\r\n"

    def __init__(self, header: Sequence[str]) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)
        self.writer.writerow(header)
        self.blocks: list[bytes] = []

    def add_block(self, block: bytes) -> None:
        """Keep a page of records (joined by CRLF, none after the last)."""
        self.blocks += (block, self.separator)

    def add(self, row: Sequence[Any]) -> int:
        """Write the row's cells (None as an empty cell)."""
        before = self.buffer.tell()
        self.writer.writerow(row[2:])
        return self.buffer.tell() - before

    def take(self) -> bytes:
        """What was written or kept since the last call (UTF-8), in that order."""
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        data = b"".join([text.encode(), *self.blocks])
        self.blocks = []
        return data


class Pages(Protocol):
    """Runs one page's statement (`?` placeholders, its last parameter the row limit)."""

    async def read(
        self, statement: str, params: list[Any], encoder: Encoder, max_rows: int, max_bytes: int
    ) -> tuple[int, Key | None, bool]:
        """Encode the page's rows: (rows read, the last row's key, whether more may follow)."""


def _read_joined(
    conn: sqlite3.Connection, statement: str, params: list[Any]
) -> tuple[int, bytes, str | None]:
    """One page on SQLite, in the worker thread: the count, the records and the last key."""
    row = conn.execute(statement, params).fetchone()
    return int(row[0]), row[1] or b"", row[2]


class SqlitePages:
    """Pages from a read-only SQLite connection of the export's own, used by one thread of its
    own (an abandoned export's close waits behind its running page). The database writes
    each record (`x_line`: a JSON line or a CSV record) and joins a page's records into one
    value, so the reading thread takes the GIL once per page instead of once per row: per
    row, on one core, the ingest path waited for the GIL at each of its many releases (its
    p99 60-140x higher during an export, bench/export). A page's text cannot be cut at a byte
    bound inside one statement, so its row limit adapts: at most twice the last, and no more
    rows of the last page's average size than fit the bound."""

    FIRST_ROWS = 16

    def __init__(self, conn: sqlite3.Connection, thread: ThreadPoolExecutor) -> None:
        self.conn = conn
        self.thread = thread
        self.limit = self.FIRST_ROWS

    async def read(
        self, statement: str, params: list[Any], encoder: Encoder, max_rows: int, max_bytes: int
    ) -> tuple[int, Key | None, bool]:
        """Read one page joined by SQLite; size the next one from this one."""
        limit = min(self.limit, max_rows)
        joined = (
            "SELECT count(*), CAST(group_concat(x_line, ?) AS BLOB), "  # noqa: S608
            f"max(created_at || ' ' || id) FROM ({statement})"
        )
        separator = encoder.separator.decode()
        loop = asyncio.get_running_loop()
        count, block, last = await loop.run_in_executor(
            self.thread, _read_joined, self.conn, joined, [separator, *params, limit]
        )
        if not count or last is None:
            return 0, None, False
        encoder.add_block(block)
        average = max(1, len(block) // count)
        self.limit = max(1, min(max_rows, 2 * limit, max_bytes // average))
        # Both columns' texts sort as the page's ORDER BY does, the time first (its two stored
        # forms compare in time order: '+' sorts before '.'); an id holds no space.
        at, _, event_id = last.rpartition(" ")
        return count, (at, event_id), count == limit


class PostgresPages:
    """Pages from the pool; the row limit adapts to the rows' size (module docstring). A page
    ends at the byte bound: rows fetched past it are left for the next page."""

    FIRST_ROWS = 16

    def __init__(self) -> None:
        self.limit = self.FIRST_ROWS

    async def read(
        self, statement: str, params: list[Any], encoder: Encoder, max_rows: int, max_bytes: int
    ) -> tuple[int, Key | None, bool]:
        """Fetch one page and encode it; size the next one from this one's largest row."""
        limit = min(self.limit, max_rows)
        # asyncpg's Records (typed as dicts by Tortoise): indexable by position, as used here.
        _, records = await reader().execute_query(statement, [*params, limit])
        rows: list[Any] = list(records)
        count = size = largest = 0
        for row in rows:
            added = encoder.add(row)
            count, size, largest = count + 1, size + added, max(largest, added)
            if size >= max_bytes:
                break
        # At most twice the last limit, and no more of the largest rows than fit the bound.
        self.limit = max(1, min(max_rows, 2 * limit, max_bytes // max(largest, 1)))
        key = (rows[count - 1][0], rows[count - 1][1]) if count else None
        return count, key, count < len(rows) or len(rows) == limit


# The reading thread's nice value: on a busy core the scheduler runs the server's other
# threads (event loop, writer) first, so an export takes only the CPU ingest leaves.
READER_NICE = 10


def _lower_priority() -> None:
    """Run the calling thread (the export's reader) at READER_NICE (Linux: per thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), READER_NICE)
    except (OSError, AttributeError):  # not Linux, or not allowed: the default priority
        pass


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA query_only = ON")
    return conn


@asynccontextmanager
async def open_pages(d: Dialect) -> AsyncIterator[Pages]:
    """The page reader of the database the reads use (SQLite: a connection, closed on exit,
    reading records the database writes, `x_line`)."""
    if d.postgres:
        yield PostgresPages()
        return
    path: str = getattr(reader(), "filename")  # noqa: B009  # Tortoise's SQLite client
    thread = ThreadPoolExecutor(1, "phospho-export", initializer=_lower_priority)
    conn = await asyncio.get_running_loop().run_in_executor(thread, _connect, path)
    try:
        yield SqlitePages(conn, thread)
    finally:
        # Not awaited: an export cancelled mid-page (the client left) closes after that page.
        thread.submit(conn.close)
        thread.shutdown(wait=False)
