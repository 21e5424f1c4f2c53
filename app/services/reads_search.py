"""Reading the events a text search finds, along its index (app/services/search.py).

Two reads the plain event list cannot make fast:
- a newest-first page on SQLite (`newest_read`): the FTS5 index read backwards from the
  cursor, stopping after a page (`search.sqlite_page_term`), instead of every hit sorted;
- best match on both databases (`best_read`): one ranked page of the newest `search.POOL`
  matches, best first (no cursor: a ranking has no stable "after").
Everything else that searches (counts, exports, tag lists, PostgreSQL's newest-first pages)
adds `search.condition` to its WHERE clause.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.services import search
from app.services.reads_budget import Read
from app.services.reads_pages import Keyset, decode_cursor
from app.services.search import PG_VECTOR, POOL, SQLITE_HITS, TextQuery
from app.services.sql import Conditions, Dialect, db_time

BEST_ORDER = ("score DESC", "created_at DESC", "id DESC")


def cursor_bound(d: Dialect, cond: Conditions, kind: str, after: str | None) -> None:
    """On SQLite, narrow the index read to keys before the cursor's next millisecond, so that a
    later page starts reading where the previous one stopped (the exact cursor condition is
    the list's own)."""
    if after is None or d.postgres:
        return
    at: datetime = decode_cursor(kind, after)[0]
    clause, params = search.sqlite_cursor_bound(db_time(d, at))
    cond.add(clause, *params)


def newest_read(
    project_id: int,
    query: TextQuery,
    cond: Conditions,
    *,
    light: str,
    text: Sequence[str],
    keyset: Keyset[Any],
    limit: int,
) -> Read:
    """SQLite: a newest-first page of `limit` hits under `cond` (the list's conditions and
    cursor, without the search), plus one that says another page follows."""
    term, params = search.sqlite_page_term(project_id, query, cond.sql, cond.params, limit + 1)
    where = f"{cond.sql} AND {term}"
    read = Read(
        "events", light, text, where, [query.fts5(project_id), *cond.params, *params],
        source=SQLITE_HITS,
    )  # fmt: skip
    return read.paged(keyset, limit)


def best_read(
    d: Dialect,
    project_id: int,
    query: TextQuery,
    cond: Conditions,
    *,
    light: str,
    text: Sequence[str],
    limit: int,
) -> Read:
    """The `limit` best matches among the newest POOL under `cond` (without the search), best
    first: bm25 on SQLite, ts_rank on PostgreSQL; ties newest first."""
    if d.postgres:
        tsquery = query.tsquery()
        newest = (
            f"SELECT * FROM events WHERE {cond.sql} AND {PG_VECTOR} @@ to_tsquery('simple', ?) "  # noqa: S608
            f"ORDER BY created_at DESC, id DESC LIMIT {POOL}"
        )
        source = (
            f"(SELECT p.*, ts_rank({PG_VECTOR}, to_tsquery('simple', ?)) AS score "  # noqa: S608
            f"FROM ({newest}) p) events"
        )
        params: list[Any] = [tsquery, *cond.params, tsquery]
    else:
        source = (
            f"(SELECT * FROM {SQLITE_HITS} WHERE {cond.sql} "  # noqa: S608
            f"ORDER BY hit DESC LIMIT {POOL}) events"
        )
        params = [query.fts5(project_id), *cond.params]
    tail = f"ORDER BY {', '.join(BEST_ORDER)} LIMIT ?"
    return Read(
        "events", f"{light}, score", text, "1 = 1", [*params, limit], tail=tail,
        order=BEST_ORDER, page=limit, source=source,
    )  # fmt: skip
