"""Upgrading a database that already holds events: later migrations backfill what they add."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.harness import BACKENDS, REPO, create_pg_database, drop_pg_database


def migrate_url(location: Path, url: str, *, down: bool = False) -> None:
    """Apply the migrations found in `location` (a copy holding only some of them) to the
    database at `url`, or undo the last one (`down`)."""
    action = "downgrade(-1, False)" if down else "upgrade(run_in_transaction=True)"
    code = (
        "import asyncio\n"
        "from aerich import Command\n"
        "from app.db import tortoise_config\n"
        "async def main():\n"
        f"    async with Command(tortoise_config({url!r}, with_reader=False), 'models', "
        f"'{location}') as command:\n"
        f"        await command.{action}\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)


def migrate_with(location: Path, db: Path) -> None:
    """Apply the migrations found in `location` to the SQLite database `db`."""
    migrate_url(location, f"sqlite://{db}")


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


def migrated_before(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A database migrated up to the SQLite migration named `*_{name}.py`, excluded: (that
    migration, the folder of those before it, the database file)."""
    partial = tmp_path / "migrations" / "models"
    partial.mkdir(parents=True)
    migration = next(SOURCE.glob(f"*_{name}.py"))
    number = int(migration.name.split("_")[0])
    for path in SOURCE.glob("*.py"):
        if int(path.name.split("_")[0]) < number:
            shutil.copy(path, partial)
    db = tmp_path / "old.sqlite3"
    migrate_with(partial.parent, db)
    return migration, partial, db


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
    migrate_url(location, f"sqlite://{db}", down=True)


Statement = tuple[str, tuple[Any, ...]]


def _run(url: str, statements: list[Statement]) -> list[list[tuple[Any, ...]]]:
    """Run statements (`?` parameters; datetimes stored as SQLite's text) on either database;
    the rows of each."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
            return [
                conn.execute(sql, [_sqlite(value) for value in params]).fetchall()
                for sql, params in statements
            ]

    async def run() -> list[list[tuple[Any, ...]]]:
        conn = await asyncpg.connect(url)
        try:
            found = []
            for sql, params in statements:
                found.append([tuple(row) for row in await conn.fetch(_numbered(sql), *params)])
            return found
        finally:
            await conn.close()

    return asyncio.run(run())


def _numbered(sql: str) -> str:
    """`?` parameters as PostgreSQL's `$1`, `$2`, …"""
    parts = sql.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


def _sqlite(value: Any) -> Any:
    return value.isoformat(sep=" ") if isinstance(value, datetime) else value


def _at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2026-01-01 {clock}+00:00")


def _sessions_before_migration_7(folded_before: int, *, sqlite: bool) -> list[Statement]:
    """Sessions a, b and c with their events (session a's first commit holds two: ids 1 and
    2, the lowest with model m2), one rollup row, and on SQLite a minute watermark."""
    events = [(2, "a", "00:00:10", "m1"), (1, "a", "00:00:10", "m2"), (3, "a", "01:00:00", "m1"),
              (4, "b", "01:01:10", None), (5, "c", "02:00:05", "m3")]  # fmt: skip
    sessions = [("a", "00:00:10", "01:00:00", 3), ("b", "01:01:10", "01:01:10", 1),
                ("c", "02:00:05", "02:00:05", 1)]  # fmt: skip
    return [
        ("INSERT INTO projects (id, name, created_at) VALUES (1, 'p', ?)", (_at("00:00:00"),)),
        *(
            ("INSERT INTO sessions (project_id, session_key, first_event_at, last_event_at, "
             "event_count) VALUES (1, ?, ?, ?, ?)", (key, _at(first), _at(last), n))
            for key, first, last, n in sessions
        ),
        *(
            ("INSERT INTO events (id, project_id, session_key, input, output, created_at, "
             "model) VALUES (?, 1, ?, 'q', 'a', ?, ?)",
             (f"00000000-0000-7000-8000-00000000000{n}", key, _at(clock), model))
            for n, key, clock, model in events
        ),
        ("INSERT INTO metric_rollups (project_id, level, bucket, model, events, tokens_in, "
         "tokens_out, cost_nano, unpriced, latency_hist, feedback_positive, feedback_negative) "
         "VALUES (1, 60, ?, 'm2', 2, 5, 6, 7, 0, '{}', 1, 0)", (H0,)),
        *([("INSERT INTO rollup_folds (level, before) VALUES (60, ?)", (folded_before,))]
          if sqlite else []),
    ]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_sessions_started_are_backfilled_into_the_rollups(tmp_path: Path, backend: str) -> None:
    """Migration 7 counts the sessions stored before it in the rollups, at their first event's
    time, in the cell of that event (the lowest id of the first commit). On SQLite a minute
    not folded yet gets its minute row only (the fold carries it up); PostgreSQL gets every
    level. Existing rows keep their counts; downgrading drops the column."""
    url = f"sqlite://{tmp_path / 'old.sqlite3'}" if backend == "sqlite" else create_pg_database()
    try:
        partial = tmp_path / "migrations" / "models"
        partial.mkdir(parents=True)
        source = REPO / "migrations" / backend / "models"
        for path in sorted(source.glob("[0-6]_*.py")):
            shutil.copy(path, partial)
        migrate_url(partial.parent, url)
        _run(
            url,
            _sessions_before_migration_7(folded_before=H0 + 2 * HOUR, sqlite=backend == "sqlite"),
        )
        shutil.copy(next(source.glob("7_*.py")), partial)
        migrate_url(partial.parent, url)
        [rows] = _run(url, [(
            "SELECT level, bucket, model, events, tokens_in, feedback_positive, sessions "
            "FROM metric_rollups ORDER BY level, bucket, model", ()
        )])  # fmt: skip
        minute_c = [(60, H0 + 2 * HOUR, "m3", 0, 0, 0, 1)]
        coarse_c = [] if backend == "sqlite" else [(HOUR, H0 + 2 * HOUR, "m3", 0, 0, 0, 1)]
        assert rows == [
            (60, H0, "m2", 2, 5, 1, 1), (60, H0 + HOUR + 60, "", 0, 0, 0, 1), *minute_c,
            (HOUR, H0, "m2", 0, 0, 0, 1), (HOUR, H0 + HOUR, "", 0, 0, 0, 1), *coarse_c,
            (DAY, H0, "", 0, 0, 0, 1), (DAY, H0, "m2", 0, 0, 0, 1),
            *([] if backend == "sqlite" else [(DAY, H0, "m3", 0, 0, 0, 1)]),
        ]  # fmt: skip
        migrate_url(partial.parent, url, down=True)
        [columns] = _run(url, [(
            "SELECT name FROM pragma_table_info('metric_rollups')" if backend == "sqlite" else
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'metric_rollups'",
            (),
        )])  # fmt: skip
        assert ("sessions",) not in columns and ("events",) in columns
    finally:
        if backend == "postgres":
            drop_pg_database(url)


def test_feedback_scores_are_backfilled_from_each_events_latest_feedback(tmp_path: Path) -> None:
    """The migration adding events.feedback_score sets it to each event's current feedback
    (the latest by time, then id), and leaves events without feedback NULL."""
    migration, partial, db = migrated_before(tmp_path, "feedback_score")
    event = "00000000-0000-7000-8000-00000000000{}".format
    feedback = [  # (id, event, score, time): event 1 changed its mind; 2 has one; 3 none
        ("10000000-0000-7000-8000-000000000001", 1, 1, "2026-01-01 10:00:00+00:00"),
        ("10000000-0000-7000-8000-000000000002", 1, 0, "2026-01-01 11:00:00+00:00"),
        ("10000000-0000-7000-8000-000000000004", 2, 0, "2026-01-01 12:00:00+00:00"),
        ("10000000-0000-7000-8000-000000000005", 2, 1, "2026-01-01 12:00:00+00:00"),
    ]
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO projects (id, name, created_at) VALUES (1, 'p', '2026-01-01')")
        for n in (1, 2, 3):
            conn.execute(
                "INSERT INTO events (id, project_id, session_key, input, output, created_at) "
                "VALUES (?, 1, 's', 'q', 'a', '2026-01-01 09:00:00+00:00')",
                (event(n),),
            )
        for feedback_id, n, score, at in feedback:
            conn.execute(
                "INSERT INTO feedback (id, project_id, event_id, score, created_at) "
                "VALUES (?, 1, ?, ?, ?)",
                (feedback_id, event(n), score, at),
            )
    shutil.copy(migration, partial)
    migrate_with(partial.parent, db)
    with sqlite3.connect(db) as conn:
        scores = conn.execute("SELECT id, feedback_score FROM events ORDER BY id").fetchall()
    # Event 2's two entries share their time: the higher id is the latest.
    assert scores == [(event(1), 0), (event(2), 1), (event(3), None)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_search_index_is_built_for_events_stored_before_it(tmp_path: Path, backend: str) -> None:
    """Migration 15 indexes the events already stored: a search (the read service's own
    condition, app/services/search.py) finds them after it, another project's are not found,
    and on SQLite every event gets a key of its own millisecond. Events logged after it are
    indexed by the triggers; downgrading drops the index."""
    from app.services.search import condition, parse_query
    from app.services.sql import POSTGRES, SQLITE

    url = f"sqlite://{tmp_path / 'old.sqlite3'}" if backend == "sqlite" else create_pg_database()
    d = SQLITE if backend == "sqlite" else POSTGRES
    try:
        partial = tmp_path / "migrations" / "models"
        partial.mkdir(parents=True)
        source = REPO / "migrations" / backend / "models"
        for path in sorted(source.glob("*.py")):
            if int(path.name.split("_", 1)[0]) <= 14:
                shutil.copy(path, partial)
        migrate_url(partial.parent, url)
        texts = [(1, "Hello GPT-4o", "fine", "00:00:01"),
                 (1, "other", "hello world", "00:00:01"), (1, "nothing", "here", "00:00:02"),
                 (2, "hello from b", "x", "00:00:03")]  # fmt: skip
        _run(url, [
            ("INSERT INTO projects (id, name, created_at) VALUES (1, 'a', ?), (2, 'b', ?)",
             (_at("00:00:00"), _at("00:00:00"))),
            *(("INSERT INTO events (id, project_id, session_key, input, output, created_at) "
               "VALUES (?, ?, 's', ?, ?, ?)",
               (f"00000000-0000-7000-8000-00000000000{n}", project, i, o, _at(clock)))
              for n, (project, i, o, clock) in enumerate(texts)),
        ])  # fmt: skip
        shutil.copy(next(source.glob("15_*.py")), partial)
        migrate_url(partial.parent, url)

        def found(query: str) -> list[str]:
            where, params = condition(d, parse_query(query))
            [rows] = _run(url, [(f"SELECT id FROM events WHERE project_id = ? AND {where} "  # noqa: S608
                                 "ORDER BY id", (1, *params))])  # fmt: skip
            return [str(row[0])[-1] for row in rows]

        assert found("hello") == ["0", "1"]
        assert found("gpt 4") == ["0"]
        if backend == "sqlite":
            [keys] = _run(url, [("SELECT key >> 22, key & 4194303 FROM event_search_ids "
                                 "ORDER BY key", ())])  # fmt: skip
            first = int(_at("00:00:01").timestamp() * 1000)
            assert keys == [(first, 0), (first, 1), (first + 1000, 0), (first + 2000, 0)]
        _run(url, [("INSERT INTO events (id, project_id, session_key, input, output, created_at) "
                    "VALUES ('00000000-0000-7000-8000-000000000009', 1, 's', 'hello later', "
                    "'', ?)", (_at("00:00:04"),))])  # fmt: skip
        assert found("hello") == ["0", "1", "9"]
        if backend == "sqlite":  # VACUUM may renumber events' rowids: the index keeps its keys
            _run(url, [("DELETE FROM events WHERE id = '00000000-0000-7000-8000-000000000000'",
                        ())])  # fmt: skip
            with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
                conn.execute("VACUUM")
            assert found("hello") == ["1", "9"]
        migrate_url(partial.parent, url, down=True)
        if backend == "sqlite":
            [left] = _run(url, [("SELECT name FROM sqlite_master WHERE name LIKE '%search%'", ())])
            assert left == []
    finally:
        if backend == "postgres":
            drop_pg_database(url)


def test_end_users_gone_with_rollups_left_are_listed_as_departed(tmp_path: Path) -> None:
    """Migration 17 (SQLite) lists the end users an earlier retention sweep deleted while
    their rollups stayed, so the Overview's top end users show them again; `last_seen` is the
    end of their latest bucket. An end user still stored is not listed."""
    migration, partial, db = migrated_before(tmp_path, "departed_users")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO projects (id, name, created_at) VALUES (1, 'p', '2026-01-01')")
        conn.execute(
            "INSERT INTO end_users (project_id, user_id, first_seen, last_seen, event_count, "
            "hour_bucket, hour_events, hour_cost_nano, hour_unpriced) "
            "VALUES (1, 'stays', '2026-01-01', '2026-01-02', 1, 0, 0, 0, 0)"
        )
        conn.executemany(
            "INSERT INTO user_rollups (project_id, level, bucket, user_id, events, cost_nano, "
            "unpriced) VALUES (1, ?, ?, ?, 1, 0, 0)",
            [(HOUR, H0, "stays"), (HOUR, H0, "gone"), (HOUR, H0 + 5 * HOUR, "gone"),
             (DAY, H0, "gone")],
        )  # fmt: skip
    shutil.copy(migration, partial)
    migrate_with(partial.parent, db)
    with sqlite3.connect(db) as conn:
        listed = conn.execute(
            "SELECT project_id, user_id, last_seen FROM departed_users"
        ).fetchall()
    # The day row ends last (H0 + DAY): an upper bound of the end user's last event.
    assert listed == [(1, "gone", "2026-01-02 00:00:00.000000+00:00")]
