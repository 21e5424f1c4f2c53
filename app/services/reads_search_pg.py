"""PostgreSQL's text search reads: which way to find a search's newest matches, from the
statistics of the events' words (app/services/search.py describes the index).

Two ways, and neither is always right:
- **Walk** the (project, created_at) index newest first, checking each row's stored words,
  until a page of matches: cheap for a common word (~0.25 us a row, warm), unbounded for a
  rare one (the whole table for a word of no event: 96 s at 1M events when the words were
  recomputed).
- **Look up** the GIN index: cheap for a rare word, but it returns every match of a common
  one, each read alone (~1.5-1.9 us a match, plus the postings of the prefix) before the
  newest can be chosen: bench/graphql's "refund" (1 event in 7, none of the newest 10,000)
  read 12,600 rows, 19-24 ms, where walking the newest 10,400 took 2.5 ms.

The planner cannot choose: it estimates every prefix at ~2% of the rows, whatever the word
(and two words at 0.04%: it read every match of "password reset", 1 event in 5, through the
index). But ANALYZE keeps the share of rows holding each common word
(`pg_stats.most_common_elems`; a word missing from it is in fewer rows than the least common
listed), so `pg_plan` chooses from the cost of the index read, which the shares predict.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from app.services.reads_budget import Read
from app.services.search import PG_VECTOR, POOL, TextQuery
from app.services.sql import POSTGRES, Conditions, fetch

WALK = 1000  # the newest rows checked first when the words' counts are unknown
# A row the GIN index finds costs about this many rows of a walk: it is read alone where the
# walk reads its neighbours (measured ~1.7 us vs ~0.25 us at 100,000 events, warm).
GIN_ROW_COST = 6
RARE_CHARS = 3  # a shorter prefix may start many rare words: its count is not known
# The statistics of `events.search_vector`, read at most once a STATS_SECONDS per process:
# (read at, statistics or None).
STATS_SECONDS = 60.0
_stats: tuple[float, WordStats | None] = (-STATS_SECONDS, None)
_MATCH = f"{PG_VECTOR} @@ to_tsquery('simple', ?)"
_NEWEST = "ORDER BY created_at DESC, id DESC"


@dataclass(frozen=True, slots=True)
class WordStats:
    """What the last ANALYZE of `events` saw of its words: how many rows, and the share of
    rows holding each of the most common words."""

    rows: float
    common: dict[str, float]

    def share(self, word: str) -> float:
        """The share of rows holding a word that starts with `word`, as far as the common
        words tell (theirs summed, at most 1; 0.0 when it starts none)."""
        return min(1.0, sum(f for w, f in self.common.items() if w.startswith(word)))


async def word_stats() -> WordStats | None:
    """The statistics of the events' words (None before the first ANALYZE), cached."""
    global _stats
    read_at, stats = _stats
    now = time.monotonic()
    if now - read_at >= STATS_SECONDS:
        rows = await fetch(POSTGRES, _STATS, [])
        row = rows[0] if rows else None
        stats = None
        if row is not None and row["words"] is not None and row["shares"] is not None:
            # most_common_elem_freqs ends with three more figures (least, most, nulls).
            shares = dict(zip(row["words"], row["shares"], strict=False))
            stats = WordStats(max(0.0, float(row["rows"])), shares)
        _stats = (now, stats)
    return stats


_STATS = (
    "SELECT c.reltuples AS rows, s.most_common_elems::text::text[] AS words, "  # noqa: S608
    "s.most_common_elem_freqs AS shares FROM pg_class c LEFT JOIN pg_stats s "
    "ON s.schemaname = current_schema() AND s.tablename = 'events' "
    f"AND s.attname = '{PG_VECTOR}' WHERE c.oid = 'events'::regclass"
)


@dataclass(frozen=True, slots=True)
class PgPlan:
    """How to find a search's newest matches: `index`, the GIN index alone; `newest`, check
    the newest `rows` rows first (a subquery bounded to them: left to choose, the planner read
    every match of two common words through the index, 161 ms at 200,000 events), then, if
    they hold too few, the GIN index. The index looks up the `lead` words and the rows it
    finds are checked for the others."""

    how: Literal["index", "newest"]
    lead: TextQuery
    rows: int = 0


def pg_plan(query: TextQuery, stats: WordStats | None) -> PgPlan:
    """The way to find `query`'s newest matches, from the words' statistics.

    - A word the statistics say is rare (no common word starts it, and not a short prefix,
      which may start many rare words): the index alone, looking up the rare words (it reads
      each posting of a prefix: "refund:* & zanzibar:*" read 143,000 for `refund`, 64 ms,
      where `zanzibar:*` alone read 10, 0.05 ms).
    - Else the newest rows first, as many as the index read would cost (GIN_ROW_COST rows a
      match, the matches estimated from the rarest word's share; at least WALK), then the
      index: a common word fills a page among the newest rows (it stops there), and one
      absent from them costs at most twice the index read.
    - Without statistics (a table never analyzed): the newest WALK rows, then the index."""
    if stats is None or not query:
        return PgPlan("newest", query, WALK)
    shares = {word: stats.share(word) for word in query.words}
    rare = tuple(w for w, share in shares.items() if share == 0.0 and len(w) >= RARE_CHARS)
    if rare:
        return PgPlan("index", TextQuery(rare))
    # A short prefix no common word starts is looked up too: its rows may be many, but the
    # common words' rows are more.
    uncommon = tuple(w for w, share in shares.items() if share == 0.0)
    lead = TextQuery(uncommon) if uncommon else query
    cost = GIN_ROW_COST * min(shares.values()) * stats.rows  # the index read, in walked rows
    return PgPlan("newest", lead, max(WALK, int(cost)))


def pg_reads(
    query: TextQuery, cond: Conditions, plan: PgPlan, *, light: str, text: Sequence[str],
    limit: int,
) -> tuple[Read, Read | None]:  # fmt: skip
    """A newest-first page of `limit` hits under `cond` (the list's conditions and cursor,
    without the search), plus one that says another page follows: the read, and the one to
    make instead when the first returns `limit` rows or fewer (None: no other)."""
    tsquery = query.tsquery()
    order = ("created_at DESC", "id DESC")
    tail = f"{_NEWEST} LIMIT ?"
    ids, params = _pg_ids(cond, query, plan.lead, newest=limit + 1)
    rare = f"(SELECT * FROM events WHERE id IN ({ids})) events"  # noqa: S608
    index = Read("events", light, text, "1 = 1", [*params, limit + 1], tail=tail, order=order,
                 page=limit, source=rare)  # fmt: skip
    if plan.how == "index":
        return index, None
    # The columns the page reads, and the words: `SELECT *` cost ~15% more a row.
    columns = ", ".join(dict.fromkeys([*light.split(", "), *text, PG_VECTOR]))
    newest = (
        f"(SELECT {columns} FROM events WHERE {cond.sql} "  # noqa: S608
        f"{_NEWEST} LIMIT {int(plan.rows)}) events"
    )
    walk = Read("events", light, text, _MATCH, [*cond.params, tsquery, limit + 1], tail=tail,
                order=order, page=limit, source=newest)  # fmt: skip
    return walk, index


def _pg_ids(
    cond: Conditions, query: TextQuery, lead: TextQuery, *, newest: int
) -> tuple[str, list[Any]]:
    """The ids of the `newest` rows under `cond` matching `query`, by the GIN index of the
    `lead` words (a subquery of its own: `OFFSET 0`), the rest checked on the rows found; its
    parameters. Only the newest are kept before the rows are read again by id: for a common
    word past newest rows that do not match (bench/graphql's "refund", 12,600 of 100,000
    events), reading every match again by id was half of the statement's 90 ms."""
    keep = f"{_NEWEST} LIMIT {int(newest)}"
    if lead == query:
        ids = f"SELECT id, created_at FROM events WHERE {cond.sql} AND {_MATCH} OFFSET 0"  # noqa: S608
        return f"SELECT id FROM ({ids}) found {keep}", [*cond.params, query.tsquery()]  # noqa: S608
    found = (
        f"SELECT id, created_at, {PG_VECTOR} FROM events "  # noqa: S608
        f"WHERE {cond.sql} AND {_MATCH} OFFSET 0"
    )
    return f"SELECT id FROM ({found}) found WHERE {_MATCH} {keep}", [  # noqa: S608
        *cond.params,
        lead.tsquery(),
        query.tsquery(),
    ]


async def pg_pool(query: TextQuery, cond: Conditions, plan: PgPlan, page: int) -> PgPlan:
    """How to find best match's pool: the matches among the newest WALK rows when they hold a
    `page` of them (ranking at most WALK rows: the newest 500 matches of two words in 1 event
    of 5 took 6.5 ms to rank, those of the newest 1,000 rows 2 ms), else among the newest
    `plan.rows` rows when they do, else the GIN index (asking it for a word in 1 event of 5
    read 200,000 rows, but a pool must be found). Both counts stop at a page."""
    if plan.how == "index":
        return plan
    sizes = dict.fromkeys((WALK, plan.rows))  # one count when the plan walks WALK rows
    counts = [
        f"(SELECT COUNT(*) FROM (SELECT 1 FROM (SELECT {PG_VECTOR} FROM events "  # noqa: S608
        f"WHERE {cond.sql} {_NEWEST} LIMIT {int(rows)}) w WHERE {_MATCH} "
        f"LIMIT {int(page)}) m) AS n{rows}"
        for rows in sizes
    ]
    params = [*cond.params, query.tsquery()]
    [row] = await fetch(POSTGRES, f"SELECT {', '.join(counts)}", params * len(sizes))
    if int(row[f"n{WALK}"]) >= page:
        return PgPlan("newest", plan.lead, WALK)
    return plan if int(row[f"n{plan.rows}"]) >= page else PgPlan("index", query)


def pg_pool_sql(cond: Conditions, pool: PgPlan) -> str:
    """The newest POOL matches under `cond`, by `pool` (`pg_pool`): the GIN index, or the
    newest `pool.rows` rows checked (a subquery: for 500 rows the planner read every match
    of "refund" through the index, 20 ms); its parameters are cond's, then the tsquery."""
    keep = f"{_NEWEST} LIMIT {POOL}"
    if pool.how == "index":
        ids = f"SELECT id FROM events WHERE {cond.sql} AND {_MATCH} OFFSET 0"  # noqa: S608
        return f"SELECT * FROM events WHERE id IN ({ids}) {keep}"  # noqa: S608
    newest = f"SELECT * FROM events WHERE {cond.sql} {_NEWEST} LIMIT {int(pool.rows)}"  # noqa: S608
    return f"SELECT * FROM ({newest}) w WHERE {_MATCH} {keep}"  # noqa: S608
