"""Reading the events a text search finds, along its index (app/services/search.py).

Two reads the plain event list cannot make fast:
- a newest-first page on SQLite (`newest_read`): the FTS5 index read backwards by key from
  the cursor, stopping after a page, instead of every hit sorted;
- best match on both databases (`best_read`): one ranked page of the newest `search.POOL`
  matches, best first (no cursor: a ranking has no stable "after").
Everything else that searches (counts, exports, tag lists, PostgreSQL's newest-first pages)
adds `search.condition` to its WHERE clause.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from app.services import search
from app.services.reads_budget import Read
from app.services.reads_pages import decode_cursor
from app.services.search import PG_VECTOR, POOL, SQLITE_HITS, TextQuery
from app.services.sql import POSTGRES, Conditions, Dialect, db_time, fetch

BEST_ORDER = ("score DESC", "created_at DESC", "id DESC")
WALK = 1000  # PostgreSQL: the newest rows checked before the GIN index is asked (`pg_reads`)


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


# PostgreSQL's most common words of events (its statistics, `pg_stats.most_common_elems`,
# kept by ANALYZE), read at most once a STATS_SECONDS per process: (read at, words or None).
STATS_SECONDS = 60.0
_common: tuple[float, frozenset[str] | None] = (-STATS_SECONDS, None)


async def pg_lead(query: TextQuery) -> TextQuery:
    """PostgreSQL: the words of `query` the GIN index should look up, the others being checked
    on the rows it finds: its uncommon words, those no common word of the statistics starts
    with. The index reads every posting of a prefix: "refund:* & zanzibar:*" read 143,000 for
    `refund` (64 ms) where `zanzibar:*` alone read 10 (0.05 ms). All of `query` when every
    word is common, or without statistics (a table never analyzed): then no word is known
    to be rare, and checking a common word's rows one by one would cost more."""
    global _common
    read_at, common = _common
    now = time.monotonic()
    if now - read_at >= STATS_SECONDS:
        rows = await fetch(POSTGRES, _STATS, [])
        common = frozenset(rows[0]["words"]) if rows and rows[0]["words"] is not None else None
        _common = (now, common)
    if common is None or len(query.words) < 2:
        return query
    uncommon = tuple(w for w in query.words if not any(c.startswith(w) for c in common))
    return TextQuery(uncommon) if uncommon else query


_STATS = (
    "SELECT most_common_elems::text::text[] AS words FROM pg_stats "  # noqa: S608
    f"WHERE schemaname = current_schema() AND tablename = 'events' AND attname = '{PG_VECTOR}'"
)


def pg_reads(
    query: TextQuery, cond: Conditions, *, light: str, text: Sequence[str], limit: int,
    lead: TextQuery | None = None,
) -> tuple[Read, Read]:  # fmt: skip
    """PostgreSQL: the two reads of a newest-first page of `limit` hits under `cond` (the
    list's conditions and cursor, without the search); the second only when the first falls
    short of a page (`limit` + 1 rows).

    The planner cannot know how rare a word is (a prefix tsquery is estimated at 0.5% of the
    rows): left to itself it walked the (project, created_at) index recomputing every row's
    words, 96 s for a word of one event in 1M. So: first the newest `WALK` rows, checked
    (a common word fills the page there); then, the matches being rare, the GIN index alone
    (`OFFSET 0` keeps it a subquery of its own), sorted. The index looks up the `lead` words
    (`pg_lead`; default: all) and the rows it finds are checked for the others."""
    tsquery = query.tsquery()
    match = f"{PG_VECTOR} @@ to_tsquery('simple', ?)"
    newest = (
        f"(SELECT * FROM events WHERE {cond.sql} "  # noqa: S608
        f"ORDER BY created_at DESC, id DESC LIMIT {WALK}) events"
    )
    ids, params = _pg_ids(cond, query, lead, newest=limit + 1)
    rare = f"(SELECT * FROM events WHERE id IN ({ids})) events"  # noqa: S608
    tail = "ORDER BY created_at DESC, id DESC LIMIT ?"
    order = ("created_at DESC", "id DESC")
    walk = Read("events", light, text, match, [*cond.params, tsquery, limit + 1], tail=tail,
                order=order, page=limit, source=newest)  # fmt: skip
    index = Read("events", light, text, "1 = 1", [*params, limit + 1],
                 tail=tail, order=order, page=limit, source=rare)  # fmt: skip
    return walk, index


def _pg_ids(
    cond: Conditions, query: TextQuery, lead: TextQuery | None, *, newest: int
) -> tuple[str, list[Any]]:
    """The ids of the `newest` rows under `cond` matching `query`, by the GIN index of the
    `lead` words (a subquery of its own: `OFFSET 0`), the rest checked on the rows found; its
    parameters. Only the newest are kept before the rows are read again by id: for a common
    word past newest rows that do not match (bench/graphql's "refund", 12,600 of 100,000
    events), reading every match again by id was half of the statement's 90 ms."""
    match = f"{PG_VECTOR} @@ to_tsquery('simple', ?)"
    keep = f"ORDER BY created_at DESC, id DESC LIMIT {int(newest)}"
    if lead is None or lead == query:
        ids = f"SELECT id, created_at FROM events WHERE {cond.sql} AND {match} OFFSET 0"  # noqa: S608
        return f"SELECT id FROM ({ids}) found {keep}", [*cond.params, query.tsquery()]  # noqa: S608
    found = (
        f"SELECT id, created_at, {PG_VECTOR} FROM events "  # noqa: S608
        f"WHERE {cond.sql} AND {match} OFFSET 0"
    )
    return f"SELECT id FROM ({found}) found WHERE {match} {keep}", [  # noqa: S608
        *cond.params,
        lead.tsquery(),
        query.tsquery(),
    ]


async def pg_pool_in_walk(query: TextQuery, cond: Conditions, page: int) -> bool:
    """PostgreSQL: whether the newest WALK rows under `cond` hold a `page` of matches (then
    best match ranks those, at most POOL; else the matches are rare and the GIN index finds
    the pool: asking it for a word in 1 event of 5 read 200,000 rows)."""
    walk = (
        f"SELECT COUNT(*) AS n FROM (SELECT * FROM events WHERE {cond.sql} "  # noqa: S608
        f"ORDER BY created_at DESC, id DESC LIMIT {WALK}) w "
        f"WHERE {PG_VECTOR} @@ to_tsquery('simple', ?)"
    )
    rows = await fetch(POSTGRES, walk, [*cond.params, query.tsquery()])
    return int(rows[0]["n"]) >= page


def _pg_pool(cond: Conditions, walk: bool) -> str:
    """The newest POOL matches under `cond` (parameters: cond's, then the tsquery): from the
    newest WALK rows, or by the GIN index alone (`pg_reads` says why)."""
    match = f"{PG_VECTOR} @@ to_tsquery('simple', ?)"
    if walk:
        source = f"(SELECT * FROM events WHERE {cond.sql} ORDER BY created_at DESC, id DESC LIMIT {WALK}) w"  # noqa: S608, E501
        where = match
    else:
        ids = f"SELECT id FROM events WHERE {cond.sql} AND {match} OFFSET 0"  # noqa: S608
        source, where = "events", f"id IN ({ids})"
    return f"SELECT * FROM {source} WHERE {where} ORDER BY created_at DESC, id DESC LIMIT {POOL}"  # noqa: S608


def best_read(
    d: Dialect,
    query: TextQuery,
    cond: Conditions,
    *,
    light: str,
    text: Sequence[str],
    limit: int,
    walk: bool = True,
) -> Read:
    """The `limit` best matches among the newest POOL under `cond` (without the search), best
    first: bm25 on SQLite, ts_rank on PostgreSQL; ties newest first. `walk` (PostgreSQL):
    the pool from the newest rows (`pg_pool_in_walk`), else from the GIN index."""
    if d.postgres:
        tsquery = query.tsquery()
        newest = _pg_pool(cond, walk)
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
        params = [query.fts5(), *cond.params]
    tail = f"ORDER BY {', '.join(BEST_ORDER)} LIMIT ?"
    return Read(
        "events", f"{light}, score", text, "1 = 1", [*params, limit], tail=tail,
        order=BEST_ORDER, page=limit, source=source,
    )  # fmt: skip
