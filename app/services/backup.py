"""Backup and restore of the SQLite database (`phospho backup`, `phospho restore`).

A backup is SQLite's online backup API (Python's `Connection.backup`) run in one step: it
copies a single read snapshot, so a server keeps committing (WAL lets a writer go on beside a
reader) and the copy holds exactly what was committed when the copy began. The copy is written
to a private (0600) temporary file beside the target, switched to the rollback journal so it
is one self-contained file (no -wal), checked (`PRAGMA integrity_check`) and only then given
its name, atomically.

A restore replaces the database of a stopped server: it refuses while a server holds the
database's claim (the `.lock` beside it), keeps the replaced database beside it, and removes
the -wal/-shm files that belonged to the replaced one (replayed onto another database they
would corrupt it). PostgreSQL is backed up with `pg_dump` (README "Backup and restore").
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.errors import Conflict, Invalid, NotFound
from app.services.write_backends import claim_sqlite_writer
from app.settings import private_file

PG_DUMP_HINT = (
    "phospho backup/restore copy SQLite databases only; back up PostgreSQL with "
    "`pg_dump --format=custom --no-owner` and restore with `pg_restore --no-owner` "
    "(README: 'Backup and restore')"
)


@dataclass(frozen=True)
class BackupReport:
    """What a backup or a restore copied."""

    path: Path
    size_bytes: int
    events: int
    seconds: float


def backup_sqlite(database: str, out: Path, *, force: bool = False) -> BackupReport:
    """Copy the live database at `database` to `out` (0600, standalone, integrity-checked)."""
    started = time.monotonic()
    if not Path(database).is_file():
        raise NotFound(f"no SQLite database at {database}")
    if out.exists() and not force:
        raise Conflict(f"{out} exists; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)  # mkstemp makes the file 0600; SQLite keeps the mode of an existing file
    tmp = Path(tmp_name)
    try:
        _copy_snapshot(database, tmp)
        events = _check_copy(tmp)
        _fsync(tmp)
        _publish(tmp, out, force=force)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}-journal").unlink(missing_ok=True)
    return BackupReport(out, out.stat().st_size, events, time.monotonic() - started)


def restore_sqlite(backup: Path, database: str) -> tuple[BackupReport, Path | None]:
    """Put `backup` in place of `database` (server stopped); returns the report and where the
    replaced database was kept (None when there was none)."""
    started = time.monotonic()
    if not backup.is_file():
        raise NotFound(f"no backup file at {backup}")
    events = _check_copy(backup)  # before anything is touched
    db = Path(database)
    db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    claim = claim_sqlite_writer(database)  # refuses while a server runs on it
    try:
        kept = _set_aside(db)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{db.name}.", suffix=".tmp", dir=db.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _copy_snapshot(str(backup), tmp)
            _fsync(tmp)
            os.replace(tmp, db)
            _fsync_dir(db.parent)
        finally:
            tmp.unlink(missing_ok=True)
            Path(f"{tmp}-journal").unlink(missing_ok=True)
    finally:
        os.close(claim)
    return BackupReport(db, db.stat().st_size, events, time.monotonic() - started), kept


def _copy_snapshot(source: str, target: Path) -> None:
    # pages=-1: the whole database in one step, under one read transaction. Stepping would
    # restart the copy at every commit the server makes, so under load it might never end.
    src = sqlite3.connect(_read_only_uri(source), uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=-1)
        # The copy inherits WAL mode from the source's header; the rollback journal makes it
        # one self-contained file (the server switches it back to WAL when it opens it).
        dst.execute("PRAGMA journal_mode=DELETE").fetchall()
    finally:
        dst.close()
        src.close()


def _read_only_uri(path: str | Path) -> str:
    """A `file:` URI opening `path` read-only (percent-encoded: a `?` or `#` in a name is safe)."""
    return Path(path).resolve().as_uri() + "?mode=ro"


def _check_copy(path: Path) -> int:
    """The number of events in a phospho database that passes `integrity_check`."""
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True)
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchall()
            has_events = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
            ).fetchone()
            events = conn.execute("SELECT count(*) FROM events").fetchone() if has_events else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise Invalid(f"{path} is not a readable SQLite database ({exc})") from None
    if verdict != [("ok",)]:
        raise Invalid(f"{path} fails PRAGMA integrity_check: {verdict[:5]}")
    if events is None:
        raise Invalid(f"{path} is not a phospho database (no events table)")
    return int(events[0])


def _publish(tmp: Path, out: Path, *, force: bool) -> None:
    if force:
        os.replace(tmp, out)
    else:
        os.link(tmp, out)  # fails if `out` appeared meanwhile: never overwrite silently
    private_file(out)
    _fsync_dir(out.parent)


def _set_aside(db: Path) -> Path | None:
    """Fold the current database's WAL into it, then keep it under a dated name."""
    if not db.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = db.with_name(f"{db.name}.replaced-{stamp}")
    try:
        conn = sqlite3.connect(db)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError:  # unreadable: keep its log with it, untouched
        for suffix in ("-wal", "-journal"):
            if Path(f"{db}{suffix}").exists():
                os.replace(f"{db}{suffix}", f"{kept}{suffix}")
    os.replace(db, kept)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return kept


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
