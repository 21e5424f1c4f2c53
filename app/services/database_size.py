"""The database's size on disk, for `GET /metrics` (`phospho_database_size_bytes`).

SQLite: the database file and its write-ahead log (`-wal`), two `stat` calls (~2 µs), read at
every scrape. PostgreSQL: `pg_database_size(current_database())`, which walks the database's
files on the server (~0.2-1 ms, more with many tables): read at most once per `MAX_AGE`
seconds, so that scraping every second costs the database nothing noticeable.
"""

from __future__ import annotations

import os
import time

from app.db import reader, sqlite_path

MAX_AGE = 5.0  # seconds a PostgreSQL reading is reused


class DatabaseSize:
    """Reads the size of the database at `url`; `bytes` is the last reading (None before)."""

    def __init__(self, url: str) -> None:
        self._sqlite = sqlite_path(url) if url.startswith("sqlite:") else None
        self.bytes: int | None = None
        self._read_at = -MAX_AGE

    async def refresh(self) -> None:
        """Read the size now (SQLite), or if the last reading is older than MAX_AGE."""
        if self._sqlite is not None:
            self.bytes = sum(_size(self._sqlite + suffix) for suffix in ("", "-wal"))
            return
        now = time.monotonic()
        if now - self._read_at < MAX_AGE:
            return
        self._read_at = now
        rows = await reader().execute_query_dict(
            "SELECT pg_database_size(current_database()) AS size"
        )
        self.bytes = int(rows[0]["size"])


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
