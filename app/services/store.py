"""The SQL of the write path, run inside one group-commit transaction.

Hand-written SQL rather than ORM objects: this is the hot path, and one `executemany` per table
per commit is what makes durable ingestion cheap. The same statements serve SQLite and
PostgreSQL; only placeholders (`?` vs `$n`) and the UUID parameter type differ.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import is_postgres

T = TypeVar("T")
_PLACEHOLDER = re.compile(r"\?")
MAX_PARAMS = 900  # well below SQLite's and asyncpg's limits on bound parameters


def sql_for(conn: BaseDBAsyncClient, sql: str) -> str:
    """Rewrite `?` placeholders to `$1, $2, …` for PostgreSQL."""
    if not is_postgres(conn):
        return sql
    counter = iter(range(1, 1_000_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


def uuid_param(conn: BaseDBAsyncClient, value: uuid.UUID) -> Any:
    """UUIDs are native on PostgreSQL and `char(36)` text on SQLite (Tortoise's convention)."""
    return value if is_postgres(conn) else str(value)


def as_datetime(value: Any) -> datetime:
    """A timestamp read back from either database, as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def chunks(items: Sequence[T], size: int = MAX_PARAMS) -> Iterable[Sequence[T]]:
    """Split `items` so an `IN (…)` list never exceeds the bound-parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def select_in(
    conn: BaseDBAsyncClient, sql: str, values: Sequence[Any], *, prefix: Sequence[Any] = ()
) -> list[Any]:
    """Run `sql` (containing one `{in}` marker) for every chunk of `values`; rows concatenated."""
    rows: list[Any] = []
    for part in chunks(values):
        text = sql.replace("{in}", ", ".join("?" * len(part)))
        _, found = await conn.execute_query(sql_for(conn, text), [*prefix, *part])
        rows.extend(found)
    return rows


async def active_key_ids(conn: BaseDBAsyncClient, key_ids: Sequence[int]) -> set[int]:
    """Which of these keys are still unrevoked, read inside the commit transaction."""
    rows = await select_in(
        conn, "SELECT id FROM api_keys WHERE revoked_at IS NULL AND id IN ({in})", key_ids
    )
    return {int(row["id"]) for row in rows}


async def touch_keys(conn: BaseDBAsyncClient, key_ids: Sequence[int], now: datetime) -> None:
    """Record `last_used_at` for keys (called at most once a minute per key)."""
    await select_in(
        conn, "UPDATE api_keys SET last_used_at = ? WHERE id IN ({in})", key_ids, prefix=[now]
    )


async def existing_events(
    conn: BaseDBAsyncClient, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """Stored events among `ids` (for idempotent retries): id -> row with project and session."""
    params = [uuid_param(conn, value) for value in ids]
    rows = await select_in(
        conn,
        "SELECT id, project_id, session_key, created_at FROM events WHERE id IN ({in})",
        params,
    )
    return {uuid.UUID(str(row["id"])): row for row in rows}


EVENT_COLUMNS = (
    "id, project_id, session_key, user_id, input, output, metadata, "
    "model, tokens_in, tokens_out, latency_ms, created_at"
)


async def insert_events(conn: BaseDBAsyncClient, rows: list[list[Any]]) -> None:
    """Insert event rows (values in EVENT_COLUMNS order; id as a UUID, metadata as JSON text)."""
    if not rows:
        return
    postgres = is_postgres(conn)
    if not postgres:
        rows = [[str(row[0]), *row[1:]] for row in rows]
    meta = "?::jsonb" if postgres else "?"
    # Only constants are interpolated; every value is a bound parameter.
    sql = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, {meta}, ?, ?, ?, ?, ?)"  # noqa: S608
    await conn.execute_many(sql_for(conn, sql), rows)


async def upsert_sessions(conn: BaseDBAsyncClient, rows: list[list[Any]]) -> None:
    """Create or extend sessions: rows of (project_id, key, user_id, first, last, count)."""
    if not rows:
        return
    sql = (
        "INSERT INTO sessions "
        "(project_id, session_key, user_id, first_event_at, last_event_at, event_count) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (project_id, session_key) DO UPDATE SET "
        "event_count = sessions.event_count + excluded.event_count, "
        "first_event_at = CASE WHEN excluded.first_event_at < sessions.first_event_at "
        "THEN excluded.first_event_at ELSE sessions.first_event_at END, "
        "last_event_at = CASE WHEN excluded.last_event_at > sessions.last_event_at "
        "THEN excluded.last_event_at ELSE sessions.last_event_at END, "
        "user_id = COALESCE(excluded.user_id, sessions.user_id)"
    )
    await conn.execute_many(sql_for(conn, sql), rows)


async def events_of_projects(
    conn: BaseDBAsyncClient, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Project of each stored event among `ids` (feedback targets), read in the transaction."""
    params = [uuid_param(conn, value) for value in ids]
    rows = await select_in(conn, "SELECT id, project_id FROM events WHERE id IN ({in})", params)
    return {uuid.UUID(str(row["id"])): int(row["project_id"]) for row in rows}


async def insert_feedback(conn: BaseDBAsyncClient, rows: list[list[Any]]) -> None:
    """Insert feedback rows: (id, project_id, event_id, score, comment, created_at)."""
    if not rows:
        return
    if not is_postgres(conn):
        rows = [[str(row[0]), row[1], str(row[2]), *row[3:]] for row in rows]
    sql = (
        "INSERT INTO feedback (id, project_id, event_id, score, comment, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    )
    await conn.execute_many(sql_for(conn, sql), rows)
