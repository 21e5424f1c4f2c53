"""A million events fast: straight multi-row SQL into a migrated SQLite database (time-ordered
ids and times over 30 days, ~300-byte texts, metadata with model/tokens/latency, tags on 5%,
feedback on 3%), with synchronous=OFF for the load only (~26 s per million here); PostgreSQL by
COPY."""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import orjson

MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet-20241022", None)
PROMPT = ("Customer #{n} asks about {topic}: I tried the steps from the help centre but it "
          "still does not work. What should I do next, and how long will it take?")  # fmt: skip
ANSWER = ("Thanks for reaching out about {topic}. Please follow the link in the e-mail we "
          "just sent, then wait for the confirmation. It usually takes less than a day; if "
          "it does not, reply here and a colleague will take over.")  # fmt: skip
TOPICS = ("refund", "delivery", "password reset", "invoice", "upgrade")
CHUNK = 10_000
EVENT_COLUMNS = (
    "id, project_id, session_key, user_id, input, output, metadata, model, "
    "tokens_in, tokens_out, latency_ms, cost_nano, status, error, created_at"
)
TAG_COLUMNS = "event_id, project_id, tag, created_at"
FEEDBACK_COLUMNS = "id, project_id, event_id, score, comment, created_at"


class Chunk(NamedTuple):
    """Rows to insert: events, their tags, their feedback."""

    events: list[tuple[Any, ...]]
    tags: list[tuple[Any, ...]]
    feedback: list[tuple[Any, ...]]


def _event_id(at: datetime, n: int) -> str:
    ms = int(at.timestamp() * 1000)
    return str(uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62) | n))


def chunks(project_id: int, total: int, days: int = 30) -> Iterator[Chunk]:
    """The events, tags and feedback rows of `total` events, CHUNK events at a time."""
    rng = random.Random(7)
    end = datetime.now(UTC) - timedelta(minutes=1)
    step = timedelta(days=days) / max(total, 1)
    for start in range(0, total, CHUNK):
        events, tags, feedback = [], [], []
        for n in range(start, min(total, start + CHUNK)):
            at = end - step * (total - n)
            when = at.isoformat(" ")
            event_id = _event_id(at, n)
            model = MODELS[n % len(MODELS)]
            topic = TOPICS[n % len(TOPICS)]
            tokens_in, tokens_out = rng.randrange(50, 2000), rng.randrange(20, 600)
            latency = round(rng.lognormvariate(6.8, 0.6), 1)
            metadata = {"model": model, "tokens_in": tokens_in, "tokens_out": tokens_out,
                        "latency_ms": latency} if model else None  # fmt: skip
            events.append((
                event_id, project_id, f"sess-{n // 5:07d}", f"user-{n % 2000:04d}",
                PROMPT.format(n=n, topic=topic), ANSWER.format(topic=topic),
                orjson.dumps(metadata).decode() if metadata else None, model,
                tokens_in if model else None, tokens_out if model else None,
                latency if model else None, rng.randrange(1000, 90000) if model else None,
                "error" if n % 50 == 0 else "ok", "timeout" if n % 50 == 0 else None, when,
            ))  # fmt: skip
            if n % 20 == 0:
                tags.append((event_id, project_id, "prod", when))
            if n % 33 == 0:
                feedback.append((_event_id(at, n + total), project_id, event_id, n % 2,
                                 "thanks" if n % 3 else None, when))  # fmt: skip
        yield Chunk(events, tags, feedback)


def seed(db: Path, project_id: int, total: int) -> float:
    """Insert `total` events of `project_id` into SQLite; returns the seconds it took."""
    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    marks = ", ".join("?" * len(EVENT_COLUMNS.split(", ")))
    for chunk in chunks(project_id, total):
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({marks})", chunk.events)  # noqa: S608
        conn.executemany(f"INSERT INTO event_tags ({TAG_COLUMNS}) VALUES (?, ?, ?, ?)",  # noqa: S608
                         chunk.tags)  # fmt: skip
        conn.executemany(f"INSERT INTO feedback ({FEEDBACK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
                         chunk.feedback)  # fmt: skip
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - started


def seed_postgres(url: str, project_id: int, total: int) -> float:
    """Insert `total` events of `project_id` into PostgreSQL with COPY, then VACUUM ANALYZE
    (what autovacuum does on a running server); returns the seconds it took."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        for chunk in chunks(project_id, total):
            with conn.transaction():
                tables = (("events", EVENT_COLUMNS, chunk.events),
                          ("event_tags", TAG_COLUMNS, chunk.tags),
                          ("feedback", FEEDBACK_COLUMNS, chunk.feedback))  # fmt: skip
                for table, columns, rows in tables:
                    with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started
