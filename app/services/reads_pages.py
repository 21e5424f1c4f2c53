"""Pages and cursors: the one pagination mechanism of every list the reads return.

Every list is keyset-paginated on (time, key): never OFFSET, so a page costs the same at the
end of a table as at its start. A list's `Keyset` names its order; its cursors are opaque,
URL-safe encodings of one row's (time, key), tagged with the keyset's kind so that a cursor
of one kind of list is refused by another. A `Page` knows its keyset, so a caller that needs
a cursor per item (GraphQL's edges) asks the page (`Page.cursor`) instead of knowing how
cursors are made.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson

from app.errors import Invalid
from app.services.sql import Conditions, Dialect, db_time, to_utc

T = TypeVar("T")
MAX_PAGE = 100
BAD_CURSOR = "after is not a valid cursor"


def encode_cursor(kind: str, at: datetime, key: str | int | uuid.UUID) -> str:
    """An opaque, URL-safe cursor for position (at, key) in a list of `kind` (a UUID key is
    encoded as its text: natively, or by `str` for asyncpg's UUID subclass). orjson writes
    the UTC time as `isoformat` does, in half its time (a page encodes one per edge)."""
    raw = orjson.dumps([kind, to_utc(at), key], default=str)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(kind: str, cursor: str) -> tuple[datetime, str | int]:
    """The (at, key) of a cursor made by `encode_cursor(kind, …)`; anything else is Invalid."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, at_text, key = orjson.loads(raw)
        at = datetime.fromisoformat(at_text)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise Invalid(BAD_CURSOR) from None
    if tag != kind or at.tzinfo is None or not isinstance(key, str | int):
        raise Invalid(BAD_CURSOR)
    return at, key


@dataclass(frozen=True, slots=True)
class Keyset(Generic[T]):
    """The order of a list of `T` and its cursors.

    Rows are ordered by (`time_column`, `key_column`), newest first when `descending`; an item's
    position is `position(item)`, its (time, key) (an `operator.attrgetter` of the view's
    attributes: no Python frame per item). `key` is the type of the key column's values: str,
    int, or uuid.UUID (bound with the dialect's UUID form). Keysets of the same `kind` share
    cursors (a session's events in either order).
    """

    kind: str
    time_column: str
    key_column: str
    position: Callable[[T], tuple[datetime, Any]]
    key: type = str
    descending: bool = True

    def cursor(self, item: T) -> str:
        """The cursor just after `item`."""
        return encode_cursor(self.kind, *self.position(item))

    def add_after(self, d: Dialect, cond: Conditions, after: str | None) -> None:
        """Narrow `cond` to the rows after cursor `after` (none when it is None); Invalid for a
        cursor that is not one of this keyset's kind."""
        if after is None:
            return
        at, key = decode_cursor(self.kind, after)
        param: Any
        if self.key is uuid.UUID:
            try:
                param = d.uuid(uuid.UUID(str(key)))
            except ValueError:
                raise Invalid(BAD_CURSOR) from None
        elif isinstance(key, self.key):
            param = key
        else:
            raise Invalid(BAD_CURSOR)
        cond.add_after(
            self.time_column, self.key_column, db_time(d, at), param, descending=self.descending
        )

    @property
    def order(self) -> tuple[str, str]:
        """The ORDER BY terms, e.g. ("created_at DESC", "id DESC")."""
        way = " DESC" if self.descending else ""
        return (f"{self.time_column}{way}", f"{self.key_column}{way}")

    @property
    def tail(self) -> str:
        """`ORDER BY … LIMIT ?`: the end of a page's statement (its last parameter: the limit)."""
        return f"ORDER BY {', '.join(self.order)} LIMIT ?"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: `end_cursor` is the `after` that fetches the next page; `keyset`
    makes the cursor of any item (None for a page that is not part of a paginated list)."""

    items: tuple[T, ...]
    end_cursor: str | None
    has_next_page: bool
    total_count: int | None = None
    keyset: Keyset[T] | None = None

    def cursor(self, item: T) -> str:
        """The cursor just after `item`, one of this page's items."""
        if self.keyset is None:
            raise ValueError("this page is not part of a paginated list")
        return self.keyset.cursor(item)


def check_first(first: int) -> int:
    """The page size to fetch: at least 1 (else Invalid), at most MAX_PAGE."""
    if isinstance(first, bool) or not isinstance(first, int) or first < 1:
        raise Invalid(f"first must be an integer from 1 to {MAX_PAGE}")
    return min(first, MAX_PAGE)


def make_page(items: list[T], limit: int, keyset: Keyset[T], total: int | None = None) -> Page[T]:
    """A page from up to `limit + 1` fetched items (the extra one only says there is more)."""
    shown = tuple(items[:limit])
    end = keyset.cursor(shown[-1]) if shown else None
    return Page(shown, end, len(items) > limit, total, keyset)
