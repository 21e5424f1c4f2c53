"""Reading the events a text search finds, along its index (app/services/search.py).

Two reads the plain event list cannot make fast:
- a newest-first page on SQLite (`newest_read`): the FTS5 index read backwards by key from
  the cursor, stopping after a page, instead of every hit sorted;
- best match on both databases (`best_read`): one ranked page of the newest `search.POOL`
  matches, best first (no cursor: a ranking has no stable "after").
PostgreSQL's newest-first pages, and where its best-match pool comes from, are chosen from
the words' statistics (`reads_search_pg`). Everything else that searches (counts, exports,
tag lists) adds `search.condition` to its WHERE clause.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.services import search
from app.services.reads_budget import Read
from app.services.reads_pages import decode_cursor
from app.services.reads_search_pg import PgPlan, pg_pool_sql
from app.services.search import PG_VECTOR, POOL, SQLITE_HITS, TextQuery
from app.services.sql import Conditions, Dialect, db_time

BEST_ORDER = ("score DESC", "created_at DESC", "id DESC")


def newest_read(
    d: Dialect,
    query: TextQuery,
    cond: Conditions,
    *,
    after: str | None,
    light: str,
    text: Sequence[str],
    limit: int,
) -> Read:
    """SQLite: a newest-first page of `limit` hits under `cond` (the list's conditions, without
    the search and the cursor), plus one that says another page follows: the index read
    backwards by key from the cursor's event (whose id the cursor carries)."""
    if after is not None:
        at, key = decode_cursor("event", after)
        clause, params = search.sqlite_after(str(key), db_time(d, at))
        cond.add(clause, *params)
    return Read(
        "events", f"{light}, hit", text, cond.sql, [query.fts5(), *cond.params, limit + 1],
        tail="ORDER BY hit DESC LIMIT ?", order=("hit DESC",), page=limit, source=SQLITE_HITS,
    )  # fmt: skip


def best_read(
    d: Dialect,
    query: TextQuery,
    cond: Conditions,
    *,
    light: str,
    text: Sequence[str],
    limit: int,
    pool: PgPlan | None = None,
) -> Read:
    """The `limit` best matches among the newest POOL under `cond` (without the search), best
    first: bm25 on SQLite, ts_rank on PostgreSQL; ties newest first. `pool` (PostgreSQL):
    how the pool is found (`reads_search_pg.pg_pool`; default: the GIN index)."""
    if d.postgres:
        tsquery = query.tsquery()
        source = (
            f"(SELECT p.*, ts_rank({PG_VECTOR}, to_tsquery('simple', ?)) AS score "  # noqa: S608
            f"FROM ({pg_pool_sql(cond, pool or PgPlan('index', query))}) p) events"
        )
        params: list[Any] = [tsquery, *cond.params, tsquery]
    else:
        source = (
            f"(SELECT * FROM {SQLITE_HITS} WHERE {cond.sql} "  # noqa: S608
            f"ORDER BY hit DESC LIMIT {POOL}) events"
        )
        params = [query.fts5(), *cond.params]
    tail = f"ORDER BY {', '.join(BEST_ORDER)} LIMIT ?"
    return Read(
        "events", f"{light}, score", text, "1 = 1", [*params, limit], tail=tail,
        order=BEST_ORDER, page=limit, source=source,
    )  # fmt: skip
