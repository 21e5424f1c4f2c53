"""Bulk-insert expired history straight into a migrated SQLite file (as bench/metrics seeds
PostgreSQL by COPY-like batches): events spread over a span of past days, with their
sessions, end users, tags and feedback, so that a sweep has every kind of row to delete."""

from __future__ import annotations

import random
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

EVENTS_PER_SESSION = 20
EVENTS_PER_USER = 100
TAGGED_EVERY = 10  # one event in 10 has two tags
FEEDBACK_EVERY = 30  # one event in 30 has feedback
ROWS_PER_COMMIT = 50_000


def _uuid7_at(at: datetime, number: int, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 of time `at` (as app/ids.py makes them, at a past time)."""
    ms = int(at.timestamp() * 1000)
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (number & 0xFFF) << 64 | 0b10 << 62
    return uuid.UUID(int=value | rng.getrandbits(62))


def _time(value: datetime) -> str:
    return value.isoformat(" ")  # SQLite's stored form (app/services/sql.py Dialect.time)


def seed_expired(
    path: Path, project_id: int, events: int, oldest_days: float, newest_days: float
) -> None:
    """`events` events of `project_id`, created between `oldest_days` and `newest_days` ago
    (oldest first), with sessions, end users, tags and feedback."""
    now = datetime.now(UTC)
    start, end = now - timedelta(days=oldest_days), now - timedelta(days=newest_days)
    step = (end - start) / max(events, 1)
    rng = random.Random(19)
    conn = sqlite3.connect(path, timeout=60)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    sessions: dict[str, list] = {}
    users: dict[str, list] = {}
    rows, tags, feedback = [], [], []
    for number in range(events):
        at = start + step * number
        stamp = _time(at)
        event_id = str(_uuid7_at(at, number, rng))  # the server's ids: time-ordered
        session = f"s{number // EVENTS_PER_SESSION}"
        user = f"u{(number // EVENTS_PER_USER) % 10_000}"
        rows.append((
            event_id, project_id, session, user, f"question {number} " + "x" * 80,
            f"answer {number} " + "y" * 120, '{"model": "gpt-4o-mini"}', "gpt-4o-mini",
            40, 80, 350.0 + number % 500, 1200, "ok", None, stamp,
        ))  # fmt: skip
        seen = sessions.setdefault(session, [user, stamp, stamp, 0])
        seen[2], seen[3] = stamp, seen[3] + 1
        seen_user = users.setdefault(user, [stamp, stamp, 0])
        seen_user[1], seen_user[2] = stamp, seen_user[2] + 1
        if number % TAGGED_EVERY == 0:
            tags += [(event_id, project_id, "bench", stamp), (event_id, project_id, "old", stamp)]
        if number % FEEDBACK_EVERY == 0:
            feedback.append((str(uuid.uuid4()), project_id, event_id, number % 2, None, stamp))
        if len(rows) >= ROWS_PER_COMMIT:
            _flush(conn, rows, tags, feedback)
    _flush(conn, rows, tags, feedback)
    conn.executemany(
        "INSERT INTO sessions (project_id, session_key, user_id, first_event_at, last_event_at, "
        "event_count) VALUES (?, ?, ?, ?, ?, ?)",
        [(project_id, key, *values) for key, values in sessions.items()],
    )
    conn.executemany(
        "INSERT INTO end_users (project_id, user_id, first_seen, last_seen, event_count, "
        "hour_bucket, hour_events, hour_cost_nano, hour_unpriced) "
        "VALUES (?, ?, ?, ?, ?, 0, 0, 0, 0)",
        [(project_id, key, *values) for key, values in users.items()],
    )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _flush(conn: sqlite3.Connection, rows: list, tags: list, feedback: list) -> None:
    conn.executemany(
        "INSERT INTO events (id, project_id, session_key, user_id, input, output, metadata, "
        "model, tokens_in, tokens_out, latency_ms, cost_nano, status, error, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany(
        "INSERT INTO event_tags (event_id, project_id, tag, created_at) VALUES (?, ?, ?, ?)", tags
    )
    conn.executemany(
        "INSERT INTO feedback (id, project_id, event_id, score, comment, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        feedback,
    )
    conn.commit()
    rows.clear()
    tags.clear()
    feedback.clear()


def file_pages(path: Path) -> tuple[int, int, int]:
    """(file bytes, pages, freelist pages) of a SQLite file (its WAL checkpointed first)."""
    conn = sqlite3.connect(path, timeout=60)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    finally:
        conn.close()
    return path.stat().st_size, pages, free
