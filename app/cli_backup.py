"""`phospho backup` and `phospho restore` (the work is in app/services/backup.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import Invalid

if TYPE_CHECKING:
    from app.settings import Settings


def _describe(verb: str, size: int, events: int, seconds: float) -> str:
    return f"{verb}: {size / 1e6:.1f} MB, {events} events, {seconds:.2f} s"


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    """Copy the running server's SQLite database to a standalone file (0600)."""
    from app.db import sqlite_path
    from app.services.backup import PG_DUMP_HINT, backup_sqlite

    if not settings.is_sqlite:
        raise Invalid(PG_DUMP_HINT)
    report = backup_sqlite(
        sqlite_path(settings.resolved_database_url), Path(args.out), force=args.force
    )
    print(
        f"{_describe('backed up', report.size_bytes, report.events, report.seconds)} "
        f"-> {report.path}",
        file=sys.stderr,
    )
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    """Replace the (stopped) server's SQLite database with a backup."""
    from app.db import sqlite_path
    from app.services.backup import PG_DUMP_HINT, restore_sqlite

    if not settings.is_sqlite:
        raise Invalid(PG_DUMP_HINT)
    report, kept = restore_sqlite(Path(args.source), sqlite_path(settings.resolved_database_url))
    print(
        f"{_describe('restored', report.size_bytes, report.events, report.seconds)} "
        f"-> {report.path}",
        file=sys.stderr,
    )
    if kept:
        print(f"the replaced database is kept as {kept} (delete it when done)", file=sys.stderr)
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `backup` and `restore` on the `phospho` parser."""
    backup = sub.add_parser(
        "backup", help="online copy of the SQLite database (server may run; 0600 file)"
    )
    backup.add_argument("--out", required=True, help="file to write (refused if it exists)")
    backup.add_argument("--force", action="store_true", help="replace --out if it exists")
    backup.set_defaults(func=cmd_backup, sync=True)
    restore = sub.add_parser(
        "restore", help="replace the SQLite database with a backup (stop the server first)"
    )
    restore.add_argument("--from", dest="source", required=True, help="the backup file")
    restore.set_defaults(func=cmd_restore, sync=True)
