"""Upgrading a database that already holds events: later migrations backfill what they add."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.harness import REPO


def migrate_with(location: Path, db: Path) -> None:
    """Apply the migrations found in `location` (a copy holding only some of them)."""
    code = (
        "import asyncio, sys\n"
        "from aerich import Command\n"
        "from app.db import tortoise_config\n"
        "async def main():\n"
        f"    async with Command(tortoise_config('sqlite://{db}', with_reader=False), 'models', "
        f"'{location}') as command:\n"
        "        await command.upgrade(run_in_transaction=True)\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)


def test_end_users_are_backfilled_from_existing_events(tmp_path: Path) -> None:
    source = REPO / "migrations" / "sqlite" / "models"
    partial = tmp_path / "migrations" / "models"
    partial.mkdir(parents=True)
    for path in sorted(source.glob("[01]_*.py")):
        shutil.copy(path, partial)
    db = tmp_path / "old.sqlite3"
    migrate_with(partial.parent, db)
    rows = [("u1", "2026-01-01 10:00:00+00:00"), ("u1", "2026-01-02 10:00:00+00:00"),
            ("u2", "2026-01-03 10:00:00+00:00"), (None, "2026-01-04 10:00:00+00:00")]  # fmt: skip
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO projects (id, name, created_at) VALUES (1, 'p', '2026-01-01')")
        for n, (user, at) in enumerate(rows):
            conn.execute(
                "INSERT INTO events (id, project_id, session_key, user_id, input, output, "
                "created_at) VALUES (?, 1, 's', ?, 'q', 'a', ?)",
                (f"00000000-0000-7000-8000-00000000000{n}", user, at),
            )
    shutil.copy(next(source.glob("2_*.py")), partial)
    migrate_with(partial.parent, db)
    with sqlite3.connect(db) as conn:
        users = conn.execute(
            "SELECT user_id, event_count, first_seen, last_seen FROM end_users ORDER BY user_id"
        ).fetchall()
    assert users == [
        ("u1", 2, "2026-01-01 10:00:00+00:00", "2026-01-02 10:00:00+00:00"),
        ("u2", 1, "2026-01-03 10:00:00+00:00", "2026-01-03 10:00:00+00:00"),
    ]
