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


SOURCE = REPO / "migrations" / "sqlite" / "models"


def migrated_up_to(tmp_path: Path, last: int) -> tuple[Path, Path]:
    """A database migrated with migrations 0..`last` only: (its migrations folder, its file)."""
    partial = tmp_path / "migrations" / "models"
    partial.mkdir(parents=True)
    for path in sorted(SOURCE.glob(f"[0-{last}]_*.py")):
        shutil.copy(path, partial)
    db = tmp_path / "old.sqlite3"
    migrate_with(partial.parent, db)
    return partial, db


def test_end_users_are_backfilled_from_existing_events(tmp_path: Path) -> None:
    partial, db = migrated_up_to(tmp_path, 1)
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
    shutil.copy(next(SOURCE.glob("2_*.py")), partial)
    migrate_with(partial.parent, db)
    with sqlite3.connect(db) as conn:
        users = conn.execute(
            "SELECT user_id, event_count, first_seen, last_seen FROM end_users ORDER BY user_id"
        ).fetchall()
    assert users == [
        ("u1", 2, "2026-01-01 10:00:00+00:00", "2026-01-02 10:00:00+00:00"),
        ("u2", 1, "2026-01-03 10:00:00+00:00", "2026-01-03 10:00:00+00:00"),
    ]


DAY, HOUR = 86400, 3600
H0 = 1_767_225_600  # 2026-01-01 00:00 UTC


def _user_rows(conn: sqlite3.Connection) -> list[tuple[int, int, str, int, int, int]]:
    return conn.execute(
        "SELECT level, bucket, user_id, events, cost_nano, unpriced FROM user_rollups "
        "ORDER BY level, bucket, user_id"
    ).fetchall()


def test_user_hours_not_folded_yet_get_their_day_rows(tmp_path: Path) -> None:
    """Migration 5 moves SQLite's unfolded end-user hours into end_users from then on: hour
    rows at or after the old watermark get their day rows first, and the watermark goes (the
    writer starts a new one past everything). Downgrading moves the end users' hours back."""
    partial, db = migrated_up_to(tmp_path, 4)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO projects (id, name, created_at) VALUES (1, 'p', '2026-01-01')")
        conn.executemany(
            "INSERT INTO user_rollups (project_id, level, bucket, user_id, events, cost_nano, "
            "unpriced) VALUES (1, ?, ?, ?, ?, ?, ?)",
            [
                (HOUR, H0, "u1", 2, 20, 0), (DAY, H0, "u1", 2, 20, 0),  # folded
                (HOUR, H0 + HOUR, "u1", 3, 30, 1),  # not folded: no day row yet
                (HOUR, H0 + 2 * HOUR, "u2", 1, 0, 1),
            ],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO rollup_folds (level, before) VALUES (?, ?)",
            [(60, H0 + 2 * HOUR + 60), (HOUR, H0 + HOUR)],
        )
    shutil.copy(next(SOURCE.glob("5_*.py")), partial)
    migrate_with(partial.parent, db)
    with sqlite3.connect(db) as conn:
        assert _user_rows(conn) == [
            (HOUR, H0, "u1", 2, 20, 0), (HOUR, H0 + HOUR, "u1", 3, 30, 1),
            (HOUR, H0 + 2 * HOUR, "u2", 1, 0, 1),
            (DAY, H0, "u1", 5, 50, 1), (DAY, H0, "u2", 1, 0, 1),
        ]  # fmt: skip
        assert conn.execute("SELECT level, before FROM rollup_folds").fetchall() == [
            (60, H0 + 2 * HOUR + 60)
        ]
        # The new writer: an end user's current hour kept in its row, past a new watermark.
        conn.execute(
            "INSERT INTO rollup_folds (level, before) VALUES (?, ?)", (HOUR, H0 + 3 * HOUR)
        )
        conn.execute(
            "INSERT INTO end_users (project_id, user_id, first_seen, last_seen, event_count, "
            "hour_bucket, hour_events, hour_cost_nano, hour_unpriced) "
            "VALUES (1, 'u2', '2026-01-01', '2026-01-01', 4, ?, 3, 7, 0)",
            (H0 + 3 * HOUR,),
        )
    downgrade_with(partial.parent, db)
    with sqlite3.connect(db) as conn:
        assert _user_rows(conn)[-3:] == [
            (HOUR, H0 + 3 * HOUR, "u2", 3, 7, 0),
            (DAY, H0, "u1", 5, 50, 1), (DAY, H0, "u2", 4, 7, 1),
        ]  # fmt: skip
        assert conn.execute("SELECT level FROM rollup_folds").fetchall() == [(60,)]
        columns = [row[1] for row in conn.execute("PRAGMA table_info(end_users)")]
        assert "hour_events" not in columns


def downgrade_with(location: Path, db: Path) -> None:
    """Undo the last migration applied from `location`."""
    code = (
        "import asyncio\n"
        "from aerich import Command\n"
        "from app.db import tortoise_config\n"
        "async def main():\n"
        f"    async with Command(tortoise_config('sqlite://{db}', with_reader=False), 'models', "
        f"'{location}') as command:\n"
        "        await command.downgrade(-1, False)\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)
