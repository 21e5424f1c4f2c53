"""`SqliteWriteBackend.checkpoint` (app/services/write_backends.py): what the write-ahead log
holds reaches the database file itself, from a connection beside the writer, which keeps
committing meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from app.services.store import Plan, Query
from app.services.write_backends import SqliteWriteBackend


def _main_file_rows(path: Path) -> int:
    """Rows of `t` in the database file alone (`immutable`: the WAL is not read)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])
    finally:
        conn.close()


def _insert(count: int) -> Plan[None]:
    for _ in range(count):
        yield Query("INSERT INTO t (v) VALUES (?)", ["x" * 100])


async def test_a_checkpoint_writes_the_log_back_while_the_writer_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    setup.commit()
    setup.close()
    backend = SqliteWriteBackend(str(path))
    await backend.open()
    try:
        await backend.run(lambda: _insert(50))
        assert _main_file_rows(path) == 0  # committed, but only in the write-ahead log
        await backend.checkpoint()
        assert _main_file_rows(path) == 50
        # Commits and checkpoints side by side: nothing lost, nothing refused.
        await asyncio.gather(
            *(backend.run(lambda: _insert(10)) for _ in range(20)),
            *(backend.checkpoint() for _ in range(5)),
        )
        await backend.checkpoint()
        assert _main_file_rows(path) == 250
    finally:
        await backend.close()


async def test_the_writer_checkpoints_beside_itself_not_inside_a_commit(tmp_path: Path) -> None:
    """SQLite's automatic checkpoint (inside the COMMIT that passes 1,000 pages of log) is off
    on the writer's connection; the writer starts a PASSIVE checkpoint on its side connection
    after a commit, at most every `checkpoint_seconds` (issue 24's pauses)."""
    path = tmp_path / "db.sqlite3"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    setup.commit()
    setup.close()
    backend = SqliteWriteBackend(str(path))
    backend.checkpoint_seconds = 3600.0  # none due yet
    await backend.open()
    try:
        assert backend._conn is not None
        assert backend._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        # 1,200 pages of log (100-byte rows, ~35 a page) in commits that never checkpoint:
        # nothing reaches the file until a routine checkpoint is due.
        for _ in range(40):
            await backend.run(lambda: _insert(1000))
        assert _main_file_rows(path) == 0  # SQLite's own would have run at 1,000 pages
        backend.checkpoint_seconds = 0.0
        await backend.run(lambda: _insert(1))  # due: it starts one beside the writer
        for _ in range(100):  # polled: the checkpoint runs on its own thread
            with contextlib.suppress(sqlite3.DatabaseError):  # read while it copies pages
                if _main_file_rows(path) == 40_001:
                    break
            await asyncio.sleep(0.02)
        assert _main_file_rows(path) == 40_001
    finally:
        await backend.close()
