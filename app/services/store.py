"""The SQL of the write path, as a plan of operations run inside one group-commit transaction.

The plan is written once, without I/O: functions here are generators that `yield` a `Query`
and receive its rows. A write backend (`app/services/write_backends.py`) drives
the plan: on SQLite the whole transaction runs in one call on the writer thread (no event-loop
round trip per statement); on PostgreSQL each operation is awaited on asyncpg. Hand-written SQL
rather than ORM objects because this is the hot path: one multi-row statement per table per
commit. (Not `executemany`: on SQLite it releases and re-takes the GIL for every row, and each
re-take stalls the event loop thread.)
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import chain
from typing import Any, NamedTuple, TypeVar

from app.services.sql import POSTGRES, SQLITE, Dialect, as_datetime

T = TypeVar("T")
# Bound parameters per statement: SQLite allows 32766 since 3.32 (999 before), PostgreSQL 32767.
MAX_PARAMS = 30_000 if sqlite3.sqlite_version_info >= (3, 32) else 900

# Every stored sum saturates instead of overflowing: at 2^63 - 1 in 64-bit columns (the
# rollups, the end users' hour counters), at 2^31 - 1 in the 32-bit event counts of sessions
# and end users (GraphQL's Int). A value at its cap reads "at least this much". With bounded
# inputs (app/services/validation.py) only cost sums can get there (~9,223 events at the
# maximum cost); before saturation one such minute stopped every later write (issue 17).
MAX_SUM = 2**63 - 1
MAX_COUNT = 2**31 - 1


def saturated(postgres: bool, stored: str, added: str, cap: int = MAX_SUM) -> str:
    """SQL for `stored + added`, at most `cap`, which no values can make overflow.

    SQLite turns an integer `+` that overflows 64 bits into a REAL (~9.22e18), which MIN then
    compares exactly with the integer cap; it also repairs a REAL left in a column by a release
    without saturation. PostgreSQL adds in numeric, which has no 64-bit limit, and casts the
    capped result back."""
    if postgres:
        return f"LEAST({stored}::numeric + {added}, {cap})::bigint"
    return f"MIN({stored} + {added}, {cap})"


def capped(value: int, cap: int = MAX_SUM) -> int:
    """A sum computed in Python (exact), as a bound parameter may carry it: at most `cap`."""
    return value if value <= cap else cap


@dataclass(frozen=True, slots=True)
class Query:
    """Run one statement; the plan receives its rows as dicts."""

    sql: str
    params: list[Any]


Op = Query
Plan = Generator[Op, Any, T]


def chunks(items: Sequence[T], size: int = MAX_PARAMS) -> Iterable[Sequence[T]]:
    """Split `items` so an `IN (…)` list never exceeds the bound-parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def select_in(
    d: Dialect, sql: str, values: Sequence[Any], *, prefix: Sequence[Any] = ()
) -> Plan[list[Any]]:
    """Run `sql` (containing one `{in}` marker) for every chunk of `values`; rows concatenated."""
    rows: list[Any] = []
    for part in chunks(values):
        text = sql.replace("{in}", ", ".join("?" * len(part)))
        rows.extend((yield Query(d.sql(text), [*prefix, *part])))
    return rows


def insert_rows(
    d: Dialect, head: str, row_sql: str, rows: list[list[Any]], *, tail: str = ""
) -> Plan[list[dict[str, Any]]]:
    """`head VALUES row, row, … tail` in as few statements as the parameter limit allows; the
    rows the statements return (a `RETURNING` tail)."""
    returned: list[dict[str, Any]] = []
    if not rows:
        return returned
    per_statement = max(1, MAX_PARAMS // max(1, len(rows[0])))
    for start in range(0, len(rows), per_statement):
        part = rows[start : start + per_statement] if len(rows) > per_statement else rows
        params = list(chain.from_iterable(part))
        sql = _values_sql(d.postgres, head, row_sql, tail, len(part))
        returned += yield Query(sql, params)
    return returned


@lru_cache(maxsize=4096)
def _values_sql(postgres: bool, head: str, row_sql: str, tail: str, count: int) -> str:
    """The text of an `insert_rows` statement of `count` rows: built once per shape (group
    commits repeat the same few), not per commit. Keyed by the dialect's flag, not the
    Dialect: the dataclass's generated __hash__ cost ~0.5 µs a statement."""
    d = POSTGRES if postgres else SQLITE
    return d.sql(f"{head} {', '.join([row_sql] * count)} {tail}".rstrip())


def active_key_ids(d: Dialect, key_ids: Sequence[int]) -> Plan[set[int]]:
    """Which of these keys are still unrevoked, read inside the commit transaction."""
    sql = "SELECT id FROM api_keys WHERE revoked_at IS NULL AND id IN ({in})"
    rows = yield from select_in(d, sql, key_ids)
    return {int(row["id"]) for row in rows}


def touch_keys(d: Dialect, key_ids: Sequence[int], now: datetime) -> Plan[None]:
    """Record `last_used_at` for keys (called at most once a minute per key)."""
    sql = "UPDATE api_keys SET last_used_at = ? WHERE id IN ({in})"
    yield from select_in(d, sql, key_ids, prefix=[d.time(now)])


def existing_events(d: Dialect, ids: Sequence[uuid.UUID]) -> Plan[dict[uuid.UUID, Any]]:
    """Stored events among `ids` (for idempotent retries): id -> row with project and session."""
    sql = "SELECT id, project_id, session_key, created_at FROM events WHERE id IN ({in})"
    rows = yield from select_in(d, sql, [d.uuid(value) for value in ids])
    return {uuid.UUID(str(row["id"])): row for row in rows}


EVENT_COLUMNS = (
    "id, project_id, session_key, user_id, input, output, metadata, "
    "model, tokens_in, tokens_out, latency_ms, cost_nano, status, error, created_at"
)


class EventRow(NamedTuple):
    """An event row to insert, in EVENT_COLUMNS order."""

    id: uuid.UUID
    project_id: int
    session_key: str
    user_id: str | None
    input: str
    output: str
    metadata: str | None  # JSON text
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float | None
    cost_nano: int | None
    status: str | None
    error: str | None
    created_at: datetime


def insert_events(d: Dialect, rows: list[EventRow]) -> Plan[None]:
    """Insert event rows."""
    if not rows:
        return
    times = _times(d, [row.created_at for row in rows])
    # Sliced rather than named field by field: the columns between id and created_at go as
    # they are (this runs once per event).
    params = [[d.uuid(row.id), *row[1:-1], times[id(row.created_at)]] for row in rows]
    meta = "?::jsonb" if d.postgres else "?"
    row_sql = f"(?, ?, ?, ?, ?, ?, {meta}, ?, ?, ?, ?, ?, ?, ?, ?)"
    yield from insert_rows(d, f"INSERT INTO events ({EVENT_COLUMNS}) VALUES", row_sql, params)


def insert_event_tags(d: Dialect, tagged: list[tuple[EventRow, tuple[str, ...]]]) -> Plan[None]:
    """Insert the tags of events inserted in the same transaction (each event's row and its
    tags, already without repeats), in the client's order; each carries its event's project
    and time so that the tag index alone answers a filter."""
    if not tagged:
        return
    times = _times(d, [row.created_at for row, _ in tagged])
    params = [
        [d.uuid(row.id), row.project_id, tag, times[id(row.created_at)]]
        for row, tags in tagged
        for tag in tags
    ]
    head = "INSERT INTO event_tags (event_id, project_id, tag, created_at) VALUES"
    yield from insert_rows(d, head, "(?, ?, ?, ?)", params)


def _times(d: Dialect, values: list[datetime]) -> dict[int, Any]:
    """Each distinct time object converted once, by identity: a group commit stamps all its
    rows with the same `now`, and converting it per row cost ~1.4 µs a row."""
    times: dict[int, Any] = {}
    for value in values:
        if id(value) not in times:
            times[id(value)] = d.time(value)
    return times


class SessionDelta(NamedTuple):
    """What one commit adds to a session (created if new)."""

    project_id: int
    session_key: str
    user_id: str | None
    first_event_at: datetime  # kept only by the commit that creates the session
    last_event_at: datetime
    event_count: int


def upsert_sessions(d: Dialect, rows: list[SessionDelta]) -> Plan[list[dict[str, Any]]]:
    """Create or extend sessions. Returns each row's (project_id, session_key, event_count):
    a session whose count is this commit's own was created by it (the rollups count it as
    started). `first_event_at` is the creating commit's earliest event time and never moves
    (a clock set back, or a late event, does not restart a session: the rollups counted it
    as started then, and `phospho rollups rebuild` counts it there too)."""
    if not rows:
        return []
    # `rows` has one entry per (project, session): a multi-row upsert may touch a row only once.
    tail = _SESSIONS_TAIL[d.postgres]
    times = _times(d, [t for row in rows for t in (row.first_event_at, row.last_event_at)])
    params = [
        [row.project_id, row.session_key, row.user_id, times[id(row.first_event_at)],
         times[id(row.last_event_at)], capped(row.event_count, MAX_COUNT)]
        for row in rows
    ]  # fmt: skip
    return (yield from insert_rows(d, _SESSIONS_HEAD, "(?, ?, ?, ?, ?, ?)", params, tail=tail))


_SESSIONS_HEAD = (
    "INSERT INTO sessions "
    "(project_id, session_key, user_id, first_event_at, last_event_at, event_count) VALUES"
)


def _sessions_tail(postgres: bool) -> str:
    count = saturated(postgres, "sessions.event_count", "excluded.event_count", MAX_COUNT)
    return (
        "ON CONFLICT (project_id, session_key) DO UPDATE SET "
        f"event_count = {count}, "
        "last_event_at = CASE WHEN excluded.last_event_at > sessions.last_event_at "
        "THEN excluded.last_event_at ELSE sessions.last_event_at END, "
        "user_id = COALESCE(excluded.user_id, sessions.user_id) "
        "RETURNING project_id, session_key, event_count"
    )


# Built once per dialect, like the rollups' upserts (app/services/rollups/upsert.py): the same
# text object each commit, so `_values_sql`'s cache finds it without hashing it again.
_SESSIONS_TAIL = {postgres: _sessions_tail(postgres) for postgres in (False, True)}


class UserHour(NamedTuple):
    """An end user's rollup counts of one hour, kept in its end_users row on SQLite until
    the hour is folded into user_rollups (app/services/rollups/sqlite.py)."""

    bucket: int  # the hour (epoch seconds); 0 with NO_USER_HOUR
    events: int
    cost_nano: int
    unpriced: int


NO_USER_HOUR = UserHour(0, 0, 0, 0)  # nothing kept in the row (zeros add nothing)


class EndUserDelta(NamedTuple):
    """What one commit adds to an end user (created if new)."""

    project_id: int
    user_id: str
    first_seen: datetime
    last_seen: datetime
    event_count: int
    hour: UserHour  # `Rollups.end_user_hour`


def upsert_end_users(d: Dialect, rows: list[EndUserDelta]) -> Plan[None]:
    """Create or extend end users (first and last seen widened by late events). A later hour
    replaces the counts of an earlier one, whose counts the fold has already moved away."""
    if not rows:
        return
    times = _times(d, [t for row in rows for t in (row.first_seen, row.last_seen)])
    params = [
        [row.project_id, row.user_id, times[id(row.first_seen)], times[id(row.last_seen)],
         capped(row.event_count, MAX_COUNT), *row.hour]
        for row in rows
    ]  # fmt: skip
    row_sql = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
    yield from insert_rows(d, _END_USERS_HEAD, row_sql, params, tail=_END_USERS_TAIL[d.postgres])


_END_USERS_HEAD = (
    "INSERT INTO end_users (project_id, user_id, first_seen, last_seen, event_count, "
    "hour_bucket, hour_events, hour_cost_nano, hour_unpriced) VALUES"
)


def _end_users_tail(postgres: bool) -> str:
    later = "excluded.hour_bucket > end_users.hour_bucket"
    hours = ", ".join(
        f"{col} = CASE WHEN {later} THEN excluded.{col} "
        f"ELSE {saturated(postgres, f'end_users.{col}', f'excluded.{col}')} END"
        for col in ("hour_events", "hour_cost_nano", "hour_unpriced")
    )
    count = saturated(postgres, "end_users.event_count", "excluded.event_count", MAX_COUNT)
    return (
        "ON CONFLICT (project_id, user_id) DO UPDATE SET "
        f"event_count = {count}, "
        "first_seen = CASE WHEN excluded.first_seen < end_users.first_seen "
        "THEN excluded.first_seen ELSE end_users.first_seen END, "
        "last_seen = CASE WHEN excluded.last_seen > end_users.last_seen "
        f"THEN excluded.last_seen ELSE end_users.last_seen END, {hours}, "
        f"hour_bucket = CASE WHEN {later} THEN excluded.hour_bucket ELSE end_users.hour_bucket END"
    )


_END_USERS_TAIL = {postgres: _end_users_tail(postgres) for postgres in (False, True)}


@dataclass(frozen=True, slots=True)
class FeedbackTarget:
    """A stored event that feedback targets, with its current feedback (for the rollups)."""

    project_id: int
    model: str | None
    score: int | None  # current feedback's score, None without feedback
    scored_at: datetime | None  # when the current feedback was given


def feedback_targets(d: Dialect, ids: Sequence[uuid.UUID]) -> Plan[dict[uuid.UUID, FeedbackTarget]]:
    """The stored events among `ids`, read in the transaction, with their current feedback."""
    sql = (
        "SELECT e.id, e.project_id, e.model, f.score, f.created_at FROM events e "
        "LEFT JOIN feedback f ON f.id = (SELECT lf.id FROM feedback lf WHERE lf.event_id = e.id "
        "ORDER BY lf.created_at DESC, lf.id DESC LIMIT 1) WHERE e.id IN ({in})"
    )
    rows = yield from select_in(d, sql, [d.uuid(value) for value in ids])
    return {uuid.UUID(str(row["id"])): _feedback_target(row) for row in rows}


def _feedback_target(row: dict[str, Any]) -> FeedbackTarget:
    scored_at = as_datetime(row["created_at"]) if row["created_at"] is not None else None
    score = int(row["score"]) if row["score"] is not None else None
    return FeedbackTarget(int(row["project_id"]), row["model"], score, scored_at)


def insert_feedback(d: Dialect, rows: list[list[Any]]) -> Plan[None]:
    """Insert feedback rows: (id, project_id, event_id, score, comment, created_at)."""
    if not rows:
        return
    params = [[d.uuid(r[0]), r[1], d.uuid(r[2]), r[3], r[4], d.time(r[5])] for r in rows]
    head = "INSERT INTO feedback (id, project_id, event_id, score, comment, created_at) VALUES"
    yield from insert_rows(d, head, "(?, ?, ?, ?, ?, ?)", params)


def set_feedback_scores(d: Dialect, event_ids: Sequence[uuid.UUID]) -> Plan[None]:
    """Copy each event's current feedback score (its latest, as the reads define it) onto
    `events.feedback_score`, after the commit's feedback rows are inserted: the feedback
    filter reads the index (project, feedback_score, created_at)."""
    if not event_ids:
        return
    sql = (
        "UPDATE events SET feedback_score = (SELECT lf.score FROM feedback lf "
        "WHERE lf.event_id = events.id ORDER BY lf.created_at DESC, lf.id DESC LIMIT 1) "
        "WHERE id IN ({in})"
    )
    yield from select_in(d, sql, [d.uuid(value) for value in sorted(set(event_ids))])


def notify(d: Dialect, channel: str, payloads: list[str]) -> Plan[None]:
    """PostgreSQL NOTIFY inside the transaction: delivered on commit, dropped on rollback."""
    for payload in payloads:
        yield Query(d.sql("SELECT pg_notify(?, ?)"), [channel, payload])
