"""Shared machinery of the read services: pages, keyset cursors, SQL conditions, row parsing.

Reads are hand-written SQL on `app.db.reader()`, written once with `?` placeholders and
rewritten for PostgreSQL by `store.Dialect`. Every list is keyset-paginated on (time, key):
never OFFSET, so a page costs the same at the end of a table as at its start.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import orjson

from app.db import is_postgres, reader
from app.errors import Invalid
from app.services.store import POSTGRES, SQLITE, Dialect, as_datetime

T = TypeVar("T")
MAX_PAGE = 100
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
class Page(Generic[T]):
    """One page of a list: `end_cursor` is the `after` that fetches the next page."""

    items: tuple[T, ...]
    end_cursor: str | None
    has_next_page: bool
    total_count: int | None = None


@dataclass(slots=True)
class Conditions:
    """A WHERE clause under construction: AND-ed conditions and their parameters in order."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        """Append one condition with its parameters."""
        self.clauses.append(clause)
        self.params.extend(params)

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


def dialect() -> Dialect:
    """The SQL dialect of the read connection."""
    return POSTGRES if is_postgres(reader()) else SQLITE


async def fetch(d: Dialect, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    """Run one read statement (written with `?` placeholders); rows as dicts."""
    rows: list[dict[str, Any]] = await reader().execute_query_dict(d.sql(sql), list(params))
    return rows


def check_first(first: int) -> int:
    """The page size to fetch: at least 1 (else Invalid), at most MAX_PAGE."""
    if isinstance(first, bool) or not isinstance(first, int) or first < 1:
        raise Invalid(f"first must be an integer from 1 to {MAX_PAGE}")
    return min(first, MAX_PAGE)


def to_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def db_time(d: Dialect, value: datetime) -> Any:
    """A datetime parameter as the database compares it (UTC text on SQLite)."""
    return d.time(to_utc(value))


def encode_cursor(kind: str, at: datetime, key: str | int) -> str:
    """An opaque, URL-safe cursor for position (at, key) in a list of `kind`."""
    raw = orjson.dumps([kind, to_utc(at).isoformat(), key])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(kind: str, cursor: str) -> tuple[datetime, str | int]:
    """The (at, key) of a cursor made by `encode_cursor(kind, …)`; anything else is Invalid."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, at_text, key = orjson.loads(raw)
        at = datetime.fromisoformat(at_text)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise Invalid("after is not a valid cursor") from None
    if tag != kind or at.tzinfo is None or not isinstance(key, str | int):
        raise Invalid("after is not a valid cursor")
    return at, key


def cursor_uuid(key: str | int) -> uuid.UUID:
    """The UUID key of a decoded cursor, or Invalid."""
    try:
        return uuid.UUID(str(key))
    except ValueError:
        raise Invalid("after is not a valid cursor") from None


def parse_uuid(value: Any) -> uuid.UUID:
    """A UUID read from either database (text on SQLite, asyncpg's UUID on PostgreSQL)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def parse_time(value: Any) -> datetime:
    """A timestamp read from either database, as an aware UTC datetime."""
    return as_datetime(value)


def parse_json(value: Any) -> dict[str, Any] | None:
    """A JSON column read from either database (text, or already decoded)."""
    if value is None or isinstance(value, dict):
        return value
    decoded = orjson.loads(value)
    return decoded if isinstance(decoded, dict) else None


def escape_like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (escape character: backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def select(columns: str, source: str, where: str, tail: str = "") -> str:
    """`SELECT … FROM … WHERE … tail`, assembled from this package's own SQL fragments.

    Only constants and `?` lists are interpolated; every value is a bound parameter.
    """
    return f"SELECT {columns} FROM {source} WHERE {where} {tail}".rstrip()  # noqa: S608


def in_list(count: int) -> str:
    """`?, ?, …` for an IN list of `count` values."""
    return ", ".join("?" * count)


def make_page(
    rows: list[T], limit: int, cursor_of: Callable[[T], str], total: int | None = None
) -> Page[T]:
    """A page from up to `limit + 1` fetched rows (the extra one only says there is more)."""
    items = tuple(rows[:limit])
    end = cursor_of(items[-1]) if items else None
    return Page(items=items, end_cursor=end, has_next_page=len(rows) > limit, total_count=total)
