"""The SQL kit of both sides: dialects, parameters, values read back, statements and fragments.

Every statement in the services is hand-written SQL with `?` placeholders, written once for
both databases; a `Dialect` rewrites it for PostgreSQL and converts the parameters whose form
differs (UUIDs, timestamps). The write path (`store.py`'s plans, `write_backends.py`) and the
reads (`reads_*.py`, `metrics.py`) share this module; what only the write path needs (plans,
multi-row inserts) stays in `store.py`, what only paginated reads need (pages, cursors) in
`reads_pages.py`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from app.db import is_postgres, reader

T = TypeVar("T")
_PLACEHOLDER = re.compile(r"\?")
# Values per `IN (…)` list of a read: far below both databases' bound-parameter limits.
IN_CHUNK = 900
# The current feedback of the event whose id is `{event}`: its latest (time, then id, since
# the feedback of one group commit shares its time and ids are time-ordered UUIDv7).
LATEST_SCORE = (
    "(SELECT lf.score FROM feedback lf WHERE lf.event_id = {event} "
    "ORDER BY lf.created_at DESC, lf.id DESC LIMIT 1)"
)
# True when feedback row `{f}` is its event's latest.
IS_LATEST = (
    "NOT EXISTS (SELECT 1 FROM feedback nf WHERE nf.event_id = {f}.event_id AND "
    "(nf.created_at > {f}.created_at OR (nf.created_at = {f}.created_at AND nf.id > {f}.id)))"
)


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between SQLite and PostgreSQL in the services' SQL and parameters."""

    postgres: bool

    def sql(self, text: str) -> str:
        """Rewrite `?` placeholders to `$1, $2, …` for PostgreSQL."""
        if not self.postgres:
            return text
        counter = iter(range(1, 1_000_000))
        return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", text)

    def uuid(self, value: uuid.UUID) -> Any:
        """UUIDs are native on PostgreSQL and `char(36)` text on SQLite (Tortoise's convention)."""
        return value if self.postgres else str(value)

    def time(self, value: datetime) -> Any:
        """Timestamps: native on PostgreSQL; on SQLite the text form Tortoise reads and writes."""
        return value if self.postgres else value.isoformat(" ")


SQLITE = Dialect(postgres=False)
POSTGRES = Dialect(postgres=True)


def dialect() -> Dialect:
    """The SQL dialect of the read connection."""
    return POSTGRES if is_postgres(reader()) else SQLITE


async def fetch(d: Dialect, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    """Run one read statement (written with `?` placeholders) on the read connection; rows as
    dicts."""
    rows: list[dict[str, Any]] = await reader().execute_query_dict(d.sql(sql), list(params))
    return rows


async def count(d: Dialect, table: str, cond: Conditions) -> int:
    """How many rows of `table` match `cond`."""
    rows = await fetch(d, select("COUNT(*) AS n", table, cond.sql), cond.params)
    return int(rows[0]["n"])


def in_chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """`values` in parts of at most IN_CHUNK, one `IN (…)` list each."""
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def to_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def db_time(d: Dialect, value: datetime) -> Any:
    """A datetime parameter as the database compares it (UTC text on SQLite)."""
    return d.time(to_utc(value))


def as_datetime(value: Any) -> datetime:
    """A timestamp read back from either database, as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def as_uuid(value: Any) -> uuid.UUID:
    """A UUID read back from either database (text on SQLite, asyncpg's UUID on PostgreSQL)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def as_json(value: Any) -> dict[str, Any] | None:
    """A JSON object column read back from either database (text, or already decoded)."""
    if value is None or isinstance(value, dict):
        return value
    decoded = orjson.loads(value)
    return decoded if isinstance(decoded, dict) else None


def select(columns: str, source: str, where: str, tail: str = "") -> str:
    """`SELECT … FROM … WHERE … tail`, assembled from the services' own SQL fragments.

    Only constants and `?` lists are interpolated; every value is a bound parameter.
    """
    return f"SELECT {columns} FROM {source} WHERE {where} {tail}".rstrip()  # noqa: S608


def in_list(count: int) -> str:
    """`?, ?, …` for an IN list of `count` values."""
    return ", ".join("?" * count)


def escape_like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (escape character: backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(slots=True)
class Conditions:
    """A WHERE clause under construction: AND-ed conditions and their parameters in order."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        """Append one condition with its parameters."""
        self.clauses.append(clause)
        self.params.extend(params)

    def add_equal(self, column: str, value: Any) -> None:
        """`column = value`, unless value is None (the filter field is not set)."""
        if value is not None:
            self.add(f"{column} = ?", value)

    def add_range(
        self, d: Dialect, column: str, since: datetime | None, until: datetime | None
    ) -> None:
        """`since <= column < until`, each bound only when given."""
        if since is not None:
            self.add(f"{column} >= ?", db_time(d, since))
        if until is not None:
            self.add(f"{column} < ?", db_time(d, until))

    def add_after(
        self, time_col: str, key_col: str, at: Any, key: Any, *, descending: bool
    ) -> None:
        """Keyset condition: rows strictly after (at, key) in the list's order.

        Written as a range on the time column (which the indexes lead with) plus a tie-break,
        so the index range starts at the cursor instead of scanning from the top.
        """
        near, far = ("<=", "<") if descending else (">=", ">")
        self.add(f"{time_col} {near} ? AND ({time_col} {far} ? OR {key_col} {far} ?)", at, at, key)

    @property
    def sql(self) -> str:
        """The conditions joined with AND."""
        return " AND ".join(self.clauses) if self.clauses else "1 = 1"
