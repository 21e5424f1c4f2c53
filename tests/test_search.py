"""Text search against real SQLite and PostgreSQL (seeded through the real write path): the
results equal a plain Python reading of the rule, pages walk every match once newest first,
best match ranks the same set, the live filter agrees, and the statement the read service
builds is an index lookup at scale (app/services/search.py)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from app.db import reader
from app.errors import Invalid
from app.live import LiveFilter
from app.services import reads, reads_search_pg
from app.services.ingest import Ingestor
from app.services.keys import Principal
from app.services.reads import EventFilter
from app.services.reads_budget import read_rows
from app.services.reads_events import LIGHT_COLUMNS
from app.services.reads_search_pg import STATS_SECONDS, WALK, PgPlan, WordStats, pg_plan
from app.services.search import CAP, MAX_QUERY_CHARS, MAX_QUERY_WORDS, TextQuery
from app.services.sql import POSTGRES, Conditions
from tests.factories import fresh_database, new_principal
from tests.harness import BACKENDS

TEXTS = [
    ("How do I use GPT-4o mini?", "Use the gpt-4o-mini model."),
    ("gpt4 vs gpt-3.5", "GPT-4 is better at reasoning"),
    ("Hello, World!", "hello there; general kenobi"),
    ("Café crème à Paris", "Un café, s'il vous plaît"),
    ("ÜBER grüße aus München", "Straße und Größe"),
    ("東京タワー に 行きたい", "東京 is the capital"),
    ("Привет, мир", "ПРИВЕТ мир и миру"),
    ("naïve approach: x_y and snake_case", "100% sure, 3.14 percent"),
    ("<script>alert(1)</script>", "tags <b>bold</b> & ampersand"),
    ("", "only an output about deliveries"),
    ("the refund was delivered", ""),
    ("customer 12345 asks", "ticket #12345-b escalated"),
]
QUERIES = [
    "gpt", "GPT-4", "gpt 4o", "gpt-4o-mini", "hello world", "HELLO", "wor", "café", "cafe",
    "über", "größe", "東京", "東京タワー", "привет", "мир", "naïve", "x_y", "snake case",
    "100%", "3.14", "deliver", "refund deliv", "12345", "12345-b", "script", "b", "zzz",
    "ello", "", "!!!", "  ", "a", "the",
]  # fmt: skip


def reference_words(text: str) -> list[str]:
    """The rule, written plainly: runs of letters and digits, lowercased."""
    return re.findall(r"[^\W_]+", text[:CAP].lower())


def reference_match(query: str, input: str, output: str) -> bool:
    """Each word of the query starts some word of the input or the output."""
    have = reference_words(input) + reference_words(output)
    return all(any(word.startswith(w) for word in have) for w in reference_words(query))


# Project `b`'s tagged events: a search with a tag filter reads the tag's rows joined to their
# events (reads_events.TAGGED), which must carry what the search reads on each database.
TAGGED_EVENTS = [
    {"input": "kiwi smoothie", "output": "x", "tags": ["fruit"]},
    {"input": "kiwi", "output": "y"},
    {"input": "banana", "output": "z", "tags": ["fruit"]},
]


@dataclass
class Stored:
    """One stored event as the test wrote it."""

    id: uuid.UUID
    created_at: datetime
    input: str
    output: str


@dataclass
class World:
    """Project `a` holds TEXTS three times (a batch sharing one commit time, then singles,
    then a batch again); project `b` holds them once (it must never show in `a`'s results)."""

    backend: str
    url: str
    a: int
    b: int
    events: list[Stored]
    tagged_kiwi: uuid.UUID  # `b`'s one event tagged "fruit" that says "kiwi"

    def expected(self, query: str) -> list[uuid.UUID]:
        """`a`'s events matching `query`, newest first."""
        kept = [e for e in self.events if reference_match(query, e.input, e.output)]
        return [e.id for e in sorted(kept, key=lambda e: (e.created_at, e.id), reverse=True)]


async def _log(ingestor: Ingestor, who: Principal, texts: list[tuple[str, str]]) -> list[Stored]:
    bodies = [{"input": i, "output": o} for i, o in texts]
    results = await ingestor.log_events(who, {"events": bodies})
    pairs = zip(results, texts, strict=True)
    return [Stored(r.event_id, r.created_at, i, o) for r, (i, o) in pairs]


@pytest.fixture(scope="module", params=BACKENDS)
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """A throwaway database per backend, seeded through the Ingestor."""
    backend = str(request.param)
    ingestor = Ingestor()
    directory = tmp_path_factory.mktemp(f"search-{backend}")
    async with fresh_database(backend, directory, ingestor) as url:
        a, b = await new_principal("search-a"), await new_principal("search-b")
        events = await _log(ingestor, a, TEXTS)
        for text in TEXTS:
            events += await _log(ingestor, a, [text])
        events += await _log(ingestor, a, TEXTS)
        await _log(ingestor, b, TEXTS)
        tagged = await ingestor.log_events(b, {"events": TAGGED_EVENTS})
        yield World(backend, url, a.project_id, b.project_id, events, tagged[0].event_id)


async def _walk(project_id: int, f: EventFilter, first: int) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    after = None
    for _ in range(200):
        page = await reads.list_events(project_id, first=first, after=after, filter=f)
        ids += [event.id for event in page.items]
        if not page.has_next_page:
            return ids
        after = page.end_cursor
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("query", QUERIES)
async def test_search_equals_the_rule_over_the_stored_events(world: World, query: str) -> None:
    """Pages of 4 and of 50 walk exactly the matching events, newest first (the batches share
    one commit time: ties by id), the count agrees, and the live filter admits the same."""
    f = EventFilter(search=query)
    expected = world.expected(query)
    assert await _walk(world.a, f, 4) == expected
    assert await _walk(world.a, f, 50) == expected
    assert await reads.count_events(world.a, f) == len(expected)
    live = LiveFilter(search=query)
    admitted = {e.id for e in world.events if live.admits_text(e.input, e.output)}
    assert admitted == set(expected)


@pytest.mark.parametrize("query", ["gpt", "hello world", "東京", "the", "12345"])
async def test_best_match_ranks_the_same_events(world: World, query: str) -> None:
    """Best match is one page of the same matches (all of them here: fewer than a page),
    each once; an event whose words match more often ranks no lower than one with fewer."""
    page = await reads.list_events(world.a, filter=EventFilter(search=query), order="best")
    ids = [event.id for event in page.items]
    assert sorted(ids) == sorted(world.expected(query))
    assert not page.has_next_page and page.end_cursor is None


async def test_best_match_prefers_more_occurrences(world: World) -> None:
    """bm25 / ts_rank: 'ПРИВЕТ мир и миру' (three matching words) before 'Привет, мир'."""
    page = await reads.list_events(world.a, filter=EventFilter(search="мир"), order="best")
    first = page.items[0]
    assert first.output == "ПРИВЕТ мир и миру"


async def test_search_with_other_filters_and_a_cursor(world: World) -> None:
    """The search ANDs with the list's other filters (here a time window)."""
    newest = max(e.created_at for e in world.events)
    f = EventFilter(search="gpt", until=newest)
    expected = [
        e for e in world.expected("gpt")
        if next(s for s in world.events if s.id == e).created_at < newest
    ]  # fmt: skip
    assert await _walk(world.a, f, 3) == expected
    best = await reads.list_events(world.a, filter=f, order="best")
    assert sorted(e.id for e in best.items) == sorted(expected)


async def test_search_with_a_tag_filter(world: World) -> None:
    """Search and tag together (the list, its count and the export read the tag's rows)."""
    f = EventFilter(search="kiw", tag="fruit")
    page = await reads.list_events(world.b, filter=f)
    assert [event.id for event in page.items] == [world.tagged_kiwi]
    assert await reads.count_events(world.b, f) == 1
    best = await reads.list_events(world.b, filter=f, order="best")
    assert [event.id for event in best.items] == [world.tagged_kiwi]


async def test_search_bounds_are_clear_errors(world: World) -> None:
    """A query past the bounds is Invalid (a 422 / a GraphQL error), never a fault; a query
    without a letter or digit is no filter."""
    with pytest.raises(Invalid, match="at most"):
        await reads.list_events(world.a, filter=EventFilter(search="x" * (MAX_QUERY_CHARS + 1)))
    with pytest.raises(Invalid, match="words"):
        words = " ".join(f"w{n}" for n in range(MAX_QUERY_WORDS + 1))
        await reads.list_events(world.a, filter=EventFilter(search=words))
    with pytest.raises(Invalid, match="single page"):
        page = await reads.list_events(world.a, first=1)
        await reads.list_events(
            world.a, after=page.end_cursor, filter=EventFilter(search="gpt"), order="best"
        )
    everything = await reads.count_events(world.a)
    assert await reads.count_events(world.a, EventFilter(search="-- ; ' \"")) == everything


async def _seed_many(world: World, rows: int) -> None:
    """`rows` more events of project `a` in one statement (straight SQL: what is tested is the
    plan at scale, not the write path), one in 1,000 with the rare word 'zebra'."""
    at = datetime(2025, 1, 1, tzinfo=UTC)
    values: list[Any] = []
    for n in range(rows):
        when = at + timedelta(seconds=n)
        word = "zebra" if n % 1000 == 0 else "common"
        values += [str(uuid.uuid4()) if world.backend == "sqlite" else uuid.uuid4(), world.a,
                   "s", f"{word} question {n}", "answer",
                   when.isoformat(" ") if world.backend == "sqlite" else when]  # fmt: skip
    d = "?" if world.backend == "sqlite" else None
    marks = []
    for n in range(rows):
        if d:
            marks.append("(?, ?, ?, ?, ?, ?)")
        else:
            base = n * 6
            marks.append("(" + ", ".join(f"${base + k}" for k in range(1, 7)) + ")")
    await reader().execute_query(
        "INSERT INTO events (id, project_id, session_key, input, output, created_at) VALUES "  # noqa: S608
        + ", ".join(marks),
        values,
    )


@pytest.fixture(scope="module")
async def big(world: World) -> World:
    """The world with 5,000 more events (added once, after the equality tests ran); on
    PostgreSQL 45,000 older ones besides, without the rare word (generated in SQL): with 5,000
    rows a project-index scan with a cheap filter on the stored words is rightly cheaper than
    the GIN index, which the planner chooses from tens of thousands of rows on."""
    await _seed_many(world, 5000)
    if world.backend == "postgres":
        await reader().execute_query(
            "INSERT INTO events (id, project_id, session_key, input, output, created_at) "
            "SELECT gen_random_uuid(), $1, 's', 'older question ' || g, 'answer', "
            "TIMESTAMPTZ '2024-01-01' + make_interval(secs => g) "
            "FROM generate_series(1, 45000) g",
            [world.a],
        )
        await reader().execute_query("ANALYZE events")
        reads_search_pg._stats = (-STATS_SECONDS, None)  # read the statistics of this ANALYZE
    return world


def _statements(caplog: pytest.LogCaptureFixture) -> list[tuple[str, list[Any]]]:
    return [
        (str(r.args[0]), list(r.args[1]))  # type: ignore[index]
        for r in caplog.records
        if str(r.args and r.args[0]).lstrip().startswith("SELECT")
        and "pg_stats" not in str(r.args[0])  # the words' statistics, read once a minute
    ]


async def _pg_plan(url: str, sql: str, params: list[Any]) -> str:
    """EXPLAIN on a connection of its own with sequential scans off: 5,000 rows are still too
    few for the planner to prefer primary-key lookups to a scan when joining the hits to
    their events; this shows which index answers, as it does at 1M (bench/search)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET enable_seqscan = off")
        rows = await conn.fetch("EXPLAIN " + sql, *params)
    finally:
        await conn.close()
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("order", ["newest", "best"])
async def test_text_search_at_scale_is_an_index_lookup(
    big: World, order: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Text search of a rare word at 1M events must be an index lookup: EXPLAIN of the very
    statements the read service runs (a page and the count) reads the FTS5 table / the GIN
    index (a word the statistics do not list: no walk of the newest rows first), and never
    scans the events table."""
    f = EventFilter(search="zebra")
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        caplog.clear()
        page = await reads.list_events(big.a, filter=f, order=order)  # type: ignore[arg-type]
        await reads.count_events(big.a, f)
        statements = _statements(caplog)
    assert len(page.items) == 5
    assert len(statements) == 2  # the page and the count
    for sql, params in statements:
        if big.backend == "sqlite":
            rows = await reader().execute_query_dict("EXPLAIN QUERY PLAN " + sql, params)
            plan = "\n".join(str(row["detail"]) for row in rows)
            assert re.search(r"SCAN s VIRTUAL TABLE INDEX", plan), plan
            # A SCAN of `events` is allowed only of a subquery so named (the ranked pool).
            subqueries = set(re.findall(r"(?:CO-ROUTINE|MATERIALIZE) (\w+)", plan))
            scanned = set(re.findall(r"^SCAN (\w+)$", plan, re.M)) - subqueries
            assert not scanned & {"events", "e"}, plan
        else:
            plan = await _pg_plan(big.url, sql, params)
            assert "idx_events_search" in plan, plan
            assert "Seq Scan on events" not in plan and "Backward" not in plan, plan


async def test_postgres_index_looks_up_the_uncommon_words(
    big: World, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL: a word the statistics do not list is looked up in the GIN index alone, and
    the rows found are checked for the other words (a common word's prefix read 143,000
    postings, 64 ms at 1M events: two words took 50-60 ms, now 14, bench/dashboard); with
    every word common the newest rows are walked first. The page is the same either way:
    the rule's."""
    if big.backend == "sqlite":
        pytest.skip("PostgreSQL's GIN index and statistics")
    stats = await reads_search_pg.word_stats()
    assert stats is not None and stats.rows >= 50_000
    plan = pg_plan(TextQuery(("quest", "zebra")), stats)
    assert plan == PgPlan("index", TextQuery(("zebra",)))
    both = TextQuery(("question", "answer"))
    assert pg_plan(both, stats).how == "newest" and pg_plan(both, stats).rows > 50_000
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        caplog.clear()
        page = await reads.list_events(big.a, filter=EventFilter(search="quest zebra"))
        statements = _statements(caplog)
    alone = await reads.list_events(big.a, filter=EventFilter(search="zebra"))
    assert [e.id for e in page.items] == [e.id for e in alone.items] and len(page.items) == 5
    [(sql, params)] = statements
    assert "'zebra':*" in params and "'quest':* & 'zebra':*" in params, params
    assert "idx_events_search" in await _pg_plan(big.url, sql, params)


def test_postgres_plan_follows_the_words_shares() -> None:
    """The way PostgreSQL finds the newest matches, from what ANALYZE saw: the GIN index for a
    word it does not list (unless a short prefix), else the newest rows first, as many as the
    index read would cost (GIN_ROW_COST rows a match), and WALK rows without statistics."""
    stats = WordStats(100_000, {"refund": 0.135, "refunds": 0.01, "customer": 0.93, "5": 0.004})
    refund = TextQuery(("refund",))
    assert pg_plan(refund, None) == PgPlan("newest", refund, WALK)
    assert stats.share("refund") == pytest.approx(0.145)  # "refunds" starts with it too
    assert pg_plan(refund, stats) == PgPlan("newest", refund, 87_000)  # 6 x 0.145 x 100,000
    two = TextQuery(("customer", "zanzibar"))
    assert pg_plan(two, stats) == PgPlan("index", TextQuery(("zanzibar",)))
    both = TextQuery(("customer", "refund"))  # the rarer word's share bounds the matches
    assert pg_plan(both, stats) == PgPlan("newest", both, 87_000)
    short = TextQuery(("9",))  # may start many words too rare to be listed
    assert pg_plan(short, stats) == PgPlan("newest", short, WALK)
    five = TextQuery(("5",))  # 400 matches expected: as many rows as reading them would cost
    assert pg_plan(five, stats) == PgPlan("newest", five, 2400)
    many = WordStats(1_000_000, {"refund": 0.02})
    assert pg_plan(refund, many) == PgPlan("newest", refund, 120_000)


async def _rows_read(url: str, sql: str, params: list[Any]) -> tuple[int, str]:
    """The rows a statement's scans of `events` read (returned or filtered out), by EXPLAIN
    ANALYZE on a connection of its own, and the plan's text."""
    conn = await asyncpg.connect(url)
    try:
        [[found]] = await conn.fetch("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *params)
    finally:
        await conn.close()
    plan = found if isinstance(found, list) else json.loads(found)
    total = 0
    nodes = [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        nodes += node.get("Plans", [])
        if node.get("Relation Name") == "events":
            loops = node.get("Actual Loops", 1)
            total += (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * loops
    return total, json.dumps(plan)


async def test_postgres_reads_a_bounded_number_of_rows(
    big: World, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL, one statement a page whatever the word: a common word absent from the newest
    5,036 events ("older": 45,000 of 50,036) is found by walking them (not by reading its
    45,000 matches), page after page; a rare word ("zebra", 5) reads its 5 rows. The pages
    are the rule's: the newest matches, in order."""
    if big.backend == "sqlite":
        pytest.skip("PostgreSQL's plans")
    newest = await reader().execute_query_dict(
        "SELECT id FROM events WHERE project_id = $1 AND input LIKE 'older %' "
        "ORDER BY created_at DESC, id DESC LIMIT 100",
        [big.a],
    )
    expected = [row["id"] for row in newest]
    # Two common words too: the planner, estimating them at 0.04% of the rows, read every
    # match through the GIN index (161 ms at 200,000 events, bench/search).
    for f in (EventFilter(search="older"), EventFilter(search="older quest")):
        after = None
        for n in range(2):
            with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
                caplog.clear()
                page = await reads.list_events(big.a, filter=f, after=after)
                statements = _statements(caplog)
            assert [e.id for e in page.items] == expected[n * 50 : (n + 1) * 50]
            [(sql, params)] = statements
            read, plan = await _rows_read(big.url, sql, params)
            assert read <= 5036 + 51, plan  # the newer events, then a page and one
            assert "idx_events_search" not in plan, plan
            after = page.end_cursor
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        caplog.clear()
        rare = await reads.list_events(big.a, filter=EventFilter(search="zebra"))
        [(sql, params)] = _statements(caplog)
    assert len(rare.items) == 5
    read, plan = await _rows_read(big.url, sql, params)
    assert read <= 2 * 5, plan  # found by the index, then read again by id


async def test_postgres_newest_rows_then_the_index(big: World) -> None:
    """PostgreSQL's middle way: the newest rows first, then, when they hold less than a page,
    the GIN index; the page is the rule's either way."""
    if big.backend == "sqlite":
        pytest.skip("PostgreSQL's plans")
    query = TextQuery(("older",))
    newest = await reader().execute_query_dict(
        "SELECT id FROM events WHERE project_id = $1 AND input LIKE 'older %' "
        "ORDER BY created_at DESC, id DESC LIMIT 11",
        [big.a],
    )
    for rows, found in ((100, 0), (5036 + 20, 11)):
        cond = Conditions()
        cond.add("project_id = ?", big.a)
        plan = PgPlan("newest", query, rows)
        first, instead = reads_search_pg.pg_reads(query, cond, plan, light=LIGHT_COLUMNS,
                                                  text=(), limit=10)  # fmt: skip
        assert instead is not None
        walked = await read_rows(POSTGRES, first, None)
        assert len(walked) == found  # the newest `rows` rows hold `found` matches
        page = walked if len(walked) > 10 else await read_rows(POSTGRES, instead, None)
        assert [row["id"] for row in page] == [row["id"] for row in newest]


async def test_postgres_best_match_pool_is_the_newest_matches(
    big: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Best match of a common word absent from the newest rows ranks the newest POOL matches,
    found by walking the newest rows (the GIN index would read all 45,000)."""
    if big.backend == "sqlite":
        pytest.skip("PostgreSQL's plans")
    newest = await reader().execute_query_dict(
        "SELECT id FROM events WHERE project_id = $1 AND input LIKE 'older %' "
        "ORDER BY created_at DESC, id DESC LIMIT 500",
        [big.a],
    )
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        caplog.clear()
        page = await reads.list_events(big.a, filter=EventFilter(search="older"), order="best")
        count, ranked = _statements(caplog)  # a page among the newest rows, then the pool
    assert len(page.items) == 50
    assert {e.id for e in page.items} <= {row["id"] for row in newest}
    # The count: the newest WALK rows (no page there), then the newer events and a page; the
    # ranked read: the newer events, the pool, each read again.
    for (sql, params), bound in ((count, WALK + 5036 + 50), (ranked, 5036 + 500 + 2 * 500)):
        read, plan = await _rows_read(big.url, sql, params)
        assert read <= bound, plan
        assert "idx_events_search" not in plan, plan
