"""The read services against real SQLite and PostgreSQL, seeded through the real write path."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from app.db import reader
from app.errors import Invalid, NotFound
from app.services import reads
from app.services.ingest import Ingestor
from app.services.keys import Principal
from app.services.reads import EventFilter, FeedbackFilter, Page, SessionFilter
from app.services.reads_pages import decode_cursor, encode_cursor
from tests.factories import fresh_database, new_principal
from tests.harness import BACKENDS

BATCH = 30


@dataclass
class Seeded:
    """One stored event and what a reader should see of it."""

    id: uuid.UUID
    created_at: datetime
    session: str
    user: str | None
    model: str | None
    input: str
    output: str
    tags: tuple[str, ...] = ()
    status: str | None = None
    latest: int | None = None


@dataclass
class World:
    """Two projects seeded through the Ingestor; `a` is rich, `b` overlaps it on purpose."""

    backend: str
    url: str
    a: int
    b: int
    events: list[Seeded]
    b_events: list[Seeded]
    feedback: dict[uuid.UUID, list[int]] = field(default_factory=dict)

    def newest_first(self, keep: Callable[[Seeded], bool] = lambda _: True) -> list[uuid.UUID]:
        """Project A's events passing `keep`, in list order."""
        kept = [e for e in self.events if keep(e)]
        return [e.id for e in sorted(kept, key=lambda e: (e.created_at, e.id), reverse=True)]


async def _log(ingestor: Ingestor, who: Principal, bodies: list[dict[str, Any]]) -> list[Seeded]:
    results = await ingestor.log_events(who, {"events": bodies})
    return [
        Seeded(r.event_id, r.created_at, r.session_id, b.get("user_id"),
               (b.get("metadata") or {}).get("model"), b["input"], b["output"],
               tuple(dict.fromkeys(b.get("tags") or ())),
               b.get("status") or ("error" if "error" in b else None))
        for r, b in zip(results, bodies, strict=True)
    ]  # fmt: skip


SINGLES: list[dict[str, Any]] = [
    {"input": "100% sure", "output": "x", "session_id": "s1", "user_id": "u2",
     "metadata": {"model": "gpt-4o", "tokens_in": 5, "tokens_out": 7, "latency_ms": 12.5,
                  "extra": "kept"}, "tags": ["prod", "eu"], "status": "ok"},
    {"input": "plain 100 percent", "output": "x", "session_id": "s1", "user_id": "u2",
     "error": "rate limited", "tags": ["prod"]},
    {"input": "snake_case here", "output": "x", "session_id": "s2", "user_id": "u3",
     "metadata": {"model": "claude-3"}, "status": "error", "error": "timeout"},
    {"input": "SNAKEXCASE", "output": "x", "session_id": "s2", "user_id": "u3"},
    {"input": "Hello World", "output": "bye", "session_id": "s3"},
    {"input": "q", "output": "well, hello there", "session_id": "s3"},
    {"input": "back\\slash", "output": "x", "session_id": "s1", "user_id": "u2"},
]  # fmt: skip


async def _seed(ingestor: Ingestor, backend: str, url: str) -> World:
    a, b = await new_principal("reads-a"), await new_principal("reads-b")
    batch = [
        {"input": f"batch {i}", "output": "ok", "session_id": "s-batch", "user_id": "u1",
         "metadata": {"model": "gpt-4o" if i % 2 else "claude-3"},
         "tags": ["batch", "prod", "batch"] if i % 3 == 0 else [f"n{i}"],
         **({"status": "ok"} if i % 4 == 0 else {})}
        for i in range(BATCH)
    ]  # fmt: skip
    events = await _log(ingestor, a, batch)
    for body in SINGLES:  # one at a time: each gets its own commit time
        events += await _log(ingestor, a, [body])
    b_events = await _log(ingestor, b, [
        {"input": "batch 100% sure, hello", "output": "ok", "session_id": "s1", "user_id": "u1",
         "metadata": {"model": "gpt-4o"}, "tags": ["prod"], "status": "error"},
        {"input": "only b", "output": "ok", "session_id": "only-b", "user_id": "only-b-user"},
    ])  # fmt: skip
    world = World(backend, url, a.project_id, b.project_id, events, b_events)
    plan = [(events[BATCH], [1, 0]), (events[BATCH + 2], [0, 1]), (events[BATCH + 4], [1])]
    for event, scores in plan:
        for score in scores:  # sequential: later feedback is the latest
            await ingestor.add_feedback(a, str(event.id), {"score": score, "comment": "c"})
    # Submitted together (likely one commit, one created_at): the later submission wins.
    first = events[0]
    await asyncio.gather(*(ingestor.add_feedback(a, str(first.id), {"score": s}) for s in (1, 0)))
    plan.append((first, [1, 0]))
    for event, scores in plan:
        event.latest = scores[-1]
        world.feedback[event.id] = scores
    await ingestor.add_feedback(b, str(b_events[0].id), {"score": 1})
    return world


@pytest.fixture(scope="module", params=BACKENDS)
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """A throwaway database per backend, migrated, with the ORM open and data seeded."""
    backend = str(request.param)
    ingestor = Ingestor()
    directory = tmp_path_factory.mktemp(f"reads-{backend}")
    async with fresh_database(backend, directory, ingestor) as url:
        yield await _seed(ingestor, backend, url)


async def _walk(
    fetch: Callable[[str | None], Awaitable[Page[Any]]], limit: int = 1000
) -> list[Any]:
    """Every item of a paginated list, following end_cursor until has_next_page is false."""
    items: list[Any] = []
    after: str | None = None
    for _ in range(limit):
        page = await fetch(after)
        items += page.items
        if not page.has_next_page:
            return items
        assert page.end_cursor is not None
        after = page.end_cursor
    raise AssertionError("pagination did not end")


def _ids(items: list[Any]) -> list[Any]:
    return [item.id for item in items]


@pytest.mark.parametrize("first", [1, 7, 100])
async def test_list_events_walks_every_event_once_newest_first(world: World, first: int) -> None:
    """Pages cover the batch sharing one created_at without duplicates or gaps."""
    got = await _walk(lambda after: reads.list_events(world.a, first=first, after=after))
    assert _ids(got) == world.newest_first()
    assert len({e.created_at for e in world.events[:BATCH]}) == 1


async def test_event_view_carries_every_field(world: World) -> None:
    """Typed columns, metadata and an aware UTC time come back as stored."""
    seeded = world.events[BATCH]
    event = await reads.get_event(world.a, str(seeded.id))
    assert (event.id, event.session_id, event.user_id) == (seeded.id, "s1", "u2")
    assert (event.input, event.output, event.model) == ("100% sure", "x", "gpt-4o")
    assert (event.tokens_in, event.tokens_out, event.latency_ms) == (5, 7, 12.5)
    assert event.metadata is not None and event.metadata["extra"] == "kept"
    assert event.created_at == seeded.created_at and event.created_at.utcoffset() == timedelta(0)
    assert (await reads.get_event(world.a, world.events[BATCH + 1].id)).metadata is None


def _words_match(query: str | None, *texts: str) -> bool:
    """The search rule, written plainly: each word of the query starts a word of a text."""
    wanted = re.findall(r"[^\W_]+", (query or "").lower())
    have = [word for text in texts for word in re.findall(r"[^\W_]+", text.lower())]
    return all(any(word.startswith(w) for word in have) for w in wanted)


def _matches(e: Seeded, f: EventFilter) -> bool:
    state = {None: "none", 1: "positive", 0: "negative"}[e.latest]
    return (
        (f.session_id is None or e.session == f.session_id)
        and (f.user_id is None or e.user == f.user_id)
        and (f.model is None or e.model == f.model)
        and (f.feedback is None or state == f.feedback)
        and (f.since is None or e.created_at >= f.since)
        and (f.until is None or e.created_at < f.until)
        and _words_match(f.search, e.input, e.output)
        and (f.tag is None or f.tag in e.tags)
        and (f.status is None or e.status == f.status)
    )


FILTERS = [
    EventFilter(session_id="s1"),
    EventFilter(user_id="u3"),
    EventFilter(model="gpt-4o"),
    EventFilter(model="claude-3", session_id="s2"),
    EventFilter(feedback="positive"),
    EventFilter(feedback="negative"),
    EventFilter(feedback="none", user_id="u2"),
    EventFilter(search="100%"),
    EventFilter(search="snake_case"),
    EventFilter(search="_"),
    EventFilter(search="\\"),
    EventFilter(search="HELLO"),
    EventFilter(search="batch", model="gpt-4o", user_id="u1"),
    EventFilter(session_id="nope"),
    EventFilter(tag="prod"),
    EventFilter(tag="n7"),
    EventFilter(tag="nope"),
    EventFilter(status="ok"),
    EventFilter(status="error"),
    EventFilter(tag="prod", status="error"),
    EventFilter(tag="batch", model="gpt-4o", status="ok"),
    EventFilter(tag="prod", feedback="negative", search="100"),  # through the tag's join
    EventFilter(tag="prod", feedback="none", user_id="u1", since=datetime(2020, 1, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize("f", FILTERS, ids=repr)
async def test_list_events_filters_match_the_seeded_data(world: World, f: EventFilter) -> None:
    """Each filter and combination lists exactly the matching events, and counts them."""
    expected = world.newest_first(lambda e: _matches(e, f))
    got = await _walk(lambda after: reads.list_events(world.a, first=4, after=after, filter=f))
    assert _ids(got) == expected
    assert await reads.count_events(world.a, f) == len(expected)
    page = await reads.list_events(world.a, first=2, filter=f, with_total=True)
    assert page.total_count == len(expected)


async def test_search_matches_word_starts_not_substrings(world: World) -> None:
    """Words are cut at punctuation (`%` and `_` are separators, not wildcards); each query
    word must start a word; case is ignored."""
    inputs = {e.input for e in await _walk(
        lambda after: reads.list_events(world.a, after=after, filter=EventFilter(search="100%"))
    )}  # fmt: skip
    assert inputs == {"100% sure", "plain 100 percent"}
    found = await reads.list_events(world.a, filter=EventFilter(search="snake_case"))
    assert [e.input for e in found.items] == ["snake_case here"]  # not SNAKEXCASE
    found = await reads.list_events(world.a, filter=EventFilter(search="ello"))
    assert found.items == ()  # inside a word: no match
    found = await reads.list_events(world.a, filter=EventFilter(search="hello"))
    assert {e.input for e in found.items} == {"Hello World", "q"}


async def test_time_window_is_since_inclusive_until_exclusive(world: World) -> None:
    """Events at exactly `since` are in, events at exactly `until` are out."""
    since, until = world.events[BATCH + 1].created_at, world.events[BATCH + 4].created_at
    f = EventFilter(since=since, until=until)
    got = await _walk(lambda after: reads.list_events(world.a, first=2, after=after, filter=f))
    assert _ids(got) == [e.id for e in reversed(world.events[BATCH + 1 : BATCH + 4])]
    local = EventFilter(since=since.astimezone(datetime.now().astimezone().tzinfo))
    assert await reads.count_events(world.a, local) == len(world.events) - BATCH - 1


async def test_feedback_filter_uses_the_latest_feedback(world: World) -> None:
    """An event rated 1 then 0 is negative; 0 then 1 is positive; unrated is none."""
    positive = await reads.list_events(world.a, filter=EventFilter(feedback="positive"))
    negative = await reads.list_events(world.a, filter=EventFilter(feedback="negative"))
    assert set(_ids(list(positive.items))) == {
        world.events[BATCH + 2].id,
        world.events[BATCH + 4].id,
    }
    assert set(_ids(list(negative.items))) == {world.events[BATCH].id, world.events[0].id}
    with pytest.raises(Invalid):
        await reads.list_events(world.a, filter=EventFilter(feedback="meh"))  # type: ignore[arg-type]


async def test_feedback_for_events_is_oldest_first_and_complete(world: World) -> None:
    """The batch loader returns every key (empty lists too), entries in rating order."""
    keys = [*world.feedback, world.events[5].id, world.b_events[0].id]
    found = await reads.feedback_for_events(world.a, keys)
    assert set(found) == set(keys)
    for event_id, scores in world.feedback.items():
        assert [f.score for f in found[event_id]] == scores
    assert found[world.events[5].id] == [] and found[world.b_events[0].id] == []


async def test_list_feedback_newest_first_with_filters(world: World) -> None:
    """Feedback pages walk newest first; score and time filters narrow them."""
    every = await _walk(lambda after: reads.list_feedback(world.a, first=2, after=after))
    assert len(every) == sum(len(s) for s in world.feedback.values())
    assert [(f.created_at, f.id) for f in every] == sorted(
        ((f.created_at, f.id) for f in every), reverse=True
    )
    ones = await _walk(lambda after: reads.list_feedback(
        world.a, first=1, after=after, filter=FeedbackFilter(score=1)
    ))  # fmt: skip
    assert len(ones) == sum(s.count(1) for s in world.feedback.values())
    newest = every[0].created_at
    recent = await reads.list_feedback(world.a, filter=FeedbackFilter(since=newest))
    older = await reads.list_feedback(world.a, filter=FeedbackFilter(until=newest))
    assert len(recent.items) + len(older.items) == len(every)
    with pytest.raises(Invalid):
        await reads.list_feedback(world.a, filter=FeedbackFilter(score=2))


async def test_sessions_list_by_latest_activity(world: World) -> None:
    """Sessions walk most recently active first, with counts and the end user."""
    got = await _walk(lambda after: reads.list_sessions(world.a, first=1, after=after))
    assert [s.id for s in got] == ["s1", "s3", "s2", "s-batch"]
    assert await reads.count_sessions(world.a) == 4
    s1 = await reads.get_session(world.a, "s1")
    assert (s1.user_id, s1.event_count) == ("u2", 3)
    assert s1.started_at == world.events[BATCH].created_at
    assert s1.last_event_at == world.events[-1].created_at
    by_user = await reads.list_sessions(world.a, filter=SessionFilter(user_id="u3"))
    assert [s.id for s in by_user.items] == ["s2"]
    since = SessionFilter(since=world.events[BATCH + 4].created_at)
    page = await reads.list_sessions(world.a, filter=since, with_total=True)
    assert [s.id for s in page.items] == ["s1", "s3"] and page.total_count == 2


async def test_session_replay_is_in_conversation_order(world: World) -> None:
    """A session's events come oldest first, the batch in the order it was sent."""
    got = await _walk(
        lambda after: reads.list_session_events(world.a, "s-batch", first=4, after=after)
    )
    assert [e.input for e in got] == [f"batch {i}" for i in range(BATCH)]
    s1 = await reads.list_session_events(world.a, "s1")
    assert [e.input for e in s1.items] == ["100% sure", "plain 100 percent", "back\\slash"]


async def test_end_users_with_activity_and_latest_feedback(world: World) -> None:
    """End users aggregate events, sessions and each event's current feedback."""
    got = await _walk(lambda after: reads.list_end_users(world.a, first=1, after=after))
    assert [u.id for u in got] == ["u2", "u3", "u1"]
    users = {u.id: u for u in got}
    assert (users["u1"].event_count, users["u1"].session_count) == (BATCH, 1)
    assert (users["u1"].positive_feedback, users["u1"].negative_feedback) == (0, 1)
    assert (users["u2"].positive_feedback, users["u2"].negative_feedback) == (0, 1)
    assert (users["u3"].positive_feedback, users["u3"].negative_feedback) == (1, 0)
    assert users["u2"].first_seen == world.events[BATCH].created_at
    assert users["u2"].last_seen == world.events[-1].created_at


async def test_project_totals_equal_what_was_seeded(world: World) -> None:
    """Totals count events, sessions, end users and current feedback, per project."""
    a = await reads.project_totals(world.a)
    assert (a.events, a.sessions, a.end_users) == (BATCH + len(SINGLES), 4, 3)
    assert (a.positive_feedback, a.negative_feedback) == (2, 2)
    b = await reads.project_totals(world.b)
    assert (b.events, b.sessions, b.end_users, b.positive_feedback, b.negative_feedback) == (
        2, 2, 2, 1, 0,
    )  # fmt: skip


async def test_every_read_is_scoped_to_its_project(world: World) -> None:
    """Another project's ids, sessions and users are invisible, whatever the filter."""
    b_event, b_ids = world.b_events[0], {e.id for e in world.b_events}
    a_all = await _walk(lambda after: reads.list_events(world.a, first=100, after=after))
    assert not b_ids & set(_ids(a_all))
    with pytest.raises(NotFound):
        await reads.get_event(world.a, b_event.id)
    assert await reads.events_by_ids(world.a, [b_event.id]) == {}
    assert await reads.count_events(world.a, EventFilter(session_id="only-b")) == 0
    assert await reads.sessions_by_keys(world.a, ["only-b"]) == {}
    with pytest.raises(NotFound):
        await reads.get_session(world.a, "only-b")
    assert (await reads.get_session(world.a, "s1")).event_count == 3
    assert (await reads.get_session(world.b, "s1")).event_count == 1
    assert [e.id for e in (await reads.list_session_events(world.b, "s1")).items] == [b_event.id]
    b_sessions = await reads.list_sessions(world.b)
    assert {s.id for s in b_sessions.items} == {"s1", "only-b"}
    b_feedback = await reads.list_feedback(world.b)
    assert [f.event_id for f in b_feedback.items] == [b_event.id]
    b_users = await reads.list_end_users(world.b)
    assert {u.id: u.event_count for u in b_users.items} == {"u1": 1, "only-b-user": 1}
    a_users = await reads.list_end_users(world.a)
    assert "only-b-user" not in {u.id for u in a_users.items}


async def test_malformed_cursor_and_page_size_are_invalid(world: World) -> None:
    """A cursor that is not ours, or of another list, and a size below 1 are refused."""
    session_cursor = (await reads.list_sessions(world.a, first=1)).end_cursor
    forged = base64.urlsafe_b64encode(b'["event", "yesterday", "x"]').decode()
    for bad in ["garbage!", "", forged, session_cursor]:
        with pytest.raises(Invalid):
            await reads.list_events(world.a, after=bad)
    for first in (0, -1):
        with pytest.raises(Invalid):
            await reads.list_events(world.a, first=first)
    with pytest.raises(Invalid):
        await reads.list_end_users(world.a, after="e30")
    capped = await reads.list_events(world.a, first=10_000)
    assert len(capped.items) == len(world.events) <= reads.MAX_PAGE


def test_cursors_keep_their_encoding() -> None:
    """A cursor is the URL-safe base64 of `[kind, the time's UTC isoformat, key]`, so that a
    cursor a client holds stays valid across releases (whole and fractional seconds, a time
    in another zone or naive, UUID and int keys)."""
    key = uuid.UUID("0190a000-0000-7000-8000-000000000001")
    times = [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=timezone(timedelta(hours=-7))),
        datetime(2026, 1, 2, 3, 4, 5),
    ]
    for at in times:
        utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        for kind, position, stored in (("event", key, str(key)), ("session", 42, 42)):
            text = json.dumps([kind, utc.isoformat(), stored], separators=(",", ":"))
            expected = base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
            assert encode_cursor(kind, at, position) == expected
            assert decode_cursor(kind, expected) == (utc, stored)


async def test_unknown_ids_are_not_found(world: World) -> None:
    """Unknown and malformed event ids and unknown sessions raise NotFound."""
    for bad in (uuid.uuid4(), "not-a-uuid", ""):
        with pytest.raises(NotFound):
            await reads.get_event(world.a, bad)
    with pytest.raises(NotFound):
        await reads.get_session(world.a, "nope")
    assert (await reads.list_session_events(world.a, "nope")).items == ()


def _selects(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if str(r.args and r.args[0]).lstrip().startswith("SELECT")]


async def test_batch_loaders_use_one_query_per_900_keys(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Loading many keys costs one statement (per 900 keys), never one per key."""
    ids = [e.id for e in world.events]
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        caplog.clear()
        events = await reads.events_by_ids(world.a, ids)
        feedback = await reads.feedback_for_events(world.a, ids)
        sessions = await reads.sessions_by_keys(world.a, ["s1", "s2", "s3", "s-batch", "x"])
        assert len(_selects(caplog)) == 3
        caplog.clear()
        many = await reads.events_by_ids(world.a, [*ids, *(uuid.uuid4() for _ in range(1000))])
        assert len(_selects(caplog)) == 2
    assert set(events) == set(ids) == set(many) == set(feedback)
    assert set(sessions) == {"s1", "s2", "s3", "s-batch"}


PLAN_FILTERS = [EventFilter(), *FILTERS, EventFilter(since=datetime(2020, 1, 1))]


@pytest.mark.parametrize("f", PLAN_FILTERS, ids=repr)
async def test_event_list_queries_use_an_index(
    world: World, f: EventFilter, caplog: pytest.LogCaptureFixture
) -> None:
    """EXPLAIN QUERY PLAN (SQLite): the page and count queries never scan a whole table."""
    if world.backend != "sqlite":
        pytest.skip("tiny PostgreSQL tables are planned as sequential scans whatever the index")
    first = await reads.list_events(world.a, first=3, filter=f)
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        caplog.clear()
        await reads.list_events(world.a, first=3, after=first.end_cursor, filter=f)
        await reads.count_events(world.a, f)
        statements = [(r.args[0], r.args[1]) for r in _selects(caplog)]  # type: ignore[index]
    assert len(statements) == 2
    for sql, params in statements:
        plan = await reader().execute_query_dict("EXPLAIN QUERY PLAN " + sql, params)
        details = [str(row["detail"]) for row in plan]
        scans = [
            d for d in details if re.match(r"SCAN (events|feedback|sessions|event_tags|t)\b", d)
        ]
        assert all("INDEX" in d for d in scans), details
        assert any("INDEX" in d for d in details), details


TAG_STATUS_FILTERS = [EventFilter(tag="prod"), EventFilter(status="error"),
                      EventFilter(tag="batch", status="ok")]  # fmt: skip
# What the plan shows when the tag and status indexes answer the filter.
SQLITE_LOOKUPS = {"tag": "(project_id=? AND tag=?)", "status": "(project_id=? AND status=?"}
POSTGRES_LOOKUPS = {
    "tag": r"Index (Only )?Scan (Backward )?using \S+ on event_tags",
    "status": r"Index Cond: .*\(?status\)?(::text)? = ",
}


async def _plans(world: World, f: EventFilter, caplog: pytest.LogCaptureFixture) -> list[str]:
    """The plans of the page and count statements of `f` (EXPLAIN QUERY PLAN on SQLite; EXPLAIN
    on PostgreSQL, with sequential scans off: its tables here are too small to be worth an
    index, so this shows which index can answer, as it does once tables are large)."""
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        caplog.clear()
        await reads.list_events(world.a, first=3, filter=f)
        await reads.count_events(world.a, f)
        statements = [(r.args[0], r.args[1]) for r in _selects(caplog)]  # type: ignore[index]
    plans = []
    for sql, params in statements:
        if world.backend == "sqlite":
            rows = await reader().execute_query_dict("EXPLAIN QUERY PLAN " + sql, params)
            plans.append("\n".join(str(row["detail"]) for row in rows))
            continue
        conn = await asyncpg.connect(world.url)
        try:
            # Statistics, as autovacuum keeps them: without them, indexes that share the
            # leading project_id tie and the planner may pick either.
            await conn.execute("ANALYZE events, event_tags, feedback")
            await conn.execute("SET enable_seqscan = off")
            rows = await conn.fetch("EXPLAIN " + sql, *params)
        finally:
            await conn.close()
        plans.append("\n".join(row[0] for row in rows))
    return plans


@pytest.mark.parametrize("f", TAG_STATUS_FILTERS, ids=repr)
async def test_tag_and_status_filters_are_index_lookups(
    world: World, f: EventFilter, caplog: pytest.LogCaptureFixture
) -> None:
    """A tag filter reads event_tags along (project, tag, created_at), joined to its events by
    id, and a status filter reads events along (project, status, created_at): index lookups on
    both databases, never a scan of JSON or of every row."""
    plans = await _plans(world, f, caplog)
    assert len(plans) == 2
    lookups = SQLITE_LOOKUPS if world.backend == "sqlite" else POSTGRES_LOOKUPS
    # A tag filter reads along the tag index (the status then filters the joined rows); a
    # status filter alone reads along the status index.
    wanted = [lookups["tag" if f.tag is not None else "status"]]
    for plan in plans:
        for lookup in wanted:
            found = lookup in plan if world.backend == "sqlite" else re.search(lookup, plan)
            assert found, plan
        assert not re.search(r"^SCAN (events|t|event_tags)$", plan, re.M), plan
        assert "Seq Scan" not in plan, plan


FEEDBACK_FILTERS = [
    EventFilter(feedback="negative"),
    EventFilter(feedback="positive"),
    EventFilter(feedback="none"),
    EventFilter(model="gpt-4o", feedback="negative"),
]


@pytest.mark.parametrize("f", FEEDBACK_FILTERS, ids=repr)
async def test_feedback_filter_reads_an_index_not_each_events_feedback(
    world: World, f: EventFilter, caplog: pytest.LogCaptureFixture
) -> None:
    """A feedback filter reads events along (project, feedback_score, created_at) on both
    databases: the page costs the same when the newest events do not match, instead of one
    lookup of the latest feedback per event skipped (issue 24: 32 ms past 10,000 of them).
    With a model too, either index answers; the feedback table is never read."""
    plans = await _plans(world, f, caplog)
    assert len(plans) == 2
    for plan in plans:
        assert "feedback lf" not in plan and "feedback xf" not in plan, plan
        assert not re.search(r"\bon feedback\b|SEARCH (lf|xf)\b", plan), plan
        if f.model is not None or (f.feedback == "none" and world.backend == "postgres"):
            # Either index answers; PostgreSQL rightly reads "none" (most events here) along
            # the project's index, checking the column of each row it passes.
            assert re.search(r"model|feedback_score", plan), plan
        elif world.backend == "sqlite":
            assert "(project_id=? AND feedback_score" in plan, plan
        else:
            assert re.search(r"Index Cond: .*feedback_score", plan), plan
        assert not re.search(r"^SCAN (events|t)$", plan, re.M), plan
        assert "Seq Scan" not in plan, plan


async def test_status_error_and_tags_are_read_back(world: World) -> None:
    """A view carries status and error; tags come in the order sent, repeats dropped."""
    failed = await reads.get_event(world.a, world.events[BATCH + 1].id)
    assert (failed.status, failed.error) == ("error", "rate limited")
    light = await reads.get_event(world.a, world.events[BATCH + 2].id, text=())
    assert (light.status, light.error) == ("error", None)  # text columns only when asked for
    ids = [world.events[0].id, world.events[BATCH].id, world.events[BATCH + 3].id]
    tags = await reads.tags_of_events(world.a, ids)
    assert tags == {ids[0]: ["batch", "prod"], ids[1]: ["prod", "eu"]}
    assert await reads.tags_of_events(world.b, ids) == {}


async def _plans_of(
    world: World, call: Callable[[], Awaitable[Any]], caplog: pytest.LogCaptureFixture
) -> list[str]:
    """The plans of every SELECT that `call` makes (as `_plans`: EXPLAIN QUERY PLAN on SQLite;
    on PostgreSQL EXPLAIN after ANALYZE with sequential scans off, showing which index answers
    as it does once tables are large)."""
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        caplog.clear()
        await call()
        statements = [(r.args[0], r.args[1]) for r in _selects(caplog)]  # type: ignore[index]
    plans = []
    for sql, params in statements:
        if world.backend == "sqlite":
            rows = await reader().execute_query_dict("EXPLAIN QUERY PLAN " + sql, params)
            plans.append(sql + "\n" + "\n".join(str(row["detail"]) for row in rows))
            continue
        conn = await asyncpg.connect(world.url)
        try:
            await conn.execute("ANALYZE events, event_tags, feedback, end_users")
            await conn.execute("SET enable_seqscan = off")
            rows = await conn.fetch("EXPLAIN " + sql, *params)
        finally:
            await conn.close()
        plans.append(sql + "\n" + "\n".join(row[0] for row in rows))
    return plans


ORDERED_FILTERS = [EventFilter(), EventFilter(user_id="u1"), EventFilter(session_id="s-batch"),
                   EventFilter(model="gpt-4o"), EventFilter(status="ok"),
                   EventFilter(feedback="none")]  # fmt: skip


@pytest.mark.parametrize("f", ORDERED_FILTERS, ids=repr)
async def test_event_pages_come_in_index_order_without_sorting_a_tie_group(
    world: World, f: EventFilter, caplog: pytest.LogCaptureFixture
) -> None:
    """The events of one group commit share their time (the BATCH here; thousands under batch
    ingest): each list index ends with `id`, the lists' tie-break, so a page reads its rows in
    order instead of reading and sorting the whole tie group (300 ms a page at 1M events on
    SQLite, bench/dashboard)."""
    first = await reads.list_events(world.a, first=3, filter=f)
    plans = await _plans_of(
        world, lambda: reads.list_events(world.a, first=3, after=first.end_cursor, filter=f), caplog
    )
    assert len(plans) == 1
    if world.backend == "sqlite":
        assert "TEMP B-TREE" not in plans[0], plans[0]
    elif f == EventFilter():  # the other indexes share a prefix the tiny tables may prefer
        assert not re.search(r"\bSort\b", plans[0]), plans[0]


async def test_tags_of_a_page_are_read_by_event_id(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A page's tags are looked up by event id (the unique (event_id, tag) index), never along
    the project's tag index, which SQLite without statistics walked whole (200 ms per events
    page and event detail at 1M events, bench/dashboard)."""
    ids = [e.id for e in world.events[:5]]
    plans = await _plans_of(world, lambda: reads.tags_of_events(world.a, ids), caplog)
    assert len(plans) == 1
    if world.backend == "sqlite":
        assert "(event_id=?)" in plans[0], plans[0]
    assert "Seq Scan" not in plans[0] and not re.search(r"^SCAN", plans[0], re.M), plans[0]


async def test_end_user_counts_read_indexes_not_the_events_or_the_feedback_table(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The users list and an end user's page count sessions along the sessions' (project,
    user_id, last_event_at) index (what the sessions list filtered by the user shows), and
    current feedback along the partial index of the events that have feedback (migration 16):
    never every event of the users (70-125 ms for a page of 50 on PostgreSQL at 1M events),
    nor the feedback table and each event's latest entry (380 ms)."""

    async def both() -> None:
        await reads.list_end_users(world.a)
        await reads.get_end_user(world.a, "u1")

    plans = await _plans_of(world, both, caplog)
    sessions = [p for p in plans if "FROM sessions" in p]
    events = [p for p in plans if "FROM events" in p]
    assert len(sessions) == 2 and len(events) == 2, plans
    for plan in sessions + events:
        assert not re.search(r"\bfeedback (f|nf|lf)\b|\bon feedback\b", plan), plan
        assert "Seq Scan" not in plan and not re.search(r"^SCAN", plan, re.M), plan
        if world.backend == "sqlite":
            assert "USING COVERING INDEX" in plan, plan
    if world.backend == "sqlite":  # PostgreSQL may take any index of these tiny tables
        for plan in events:
            assert "idx_events_user_feedback" in plan, plan


async def test_postgres_reads_plan_no_parallel_workers(world: World) -> None:
    """The ORM's pool runs without parallel workers (app/db.py READ_SETTINGS): launching them
    cost more than the millisecond reads they split (bench/dashboard at 1M events)."""
    if world.backend == "sqlite":
        pytest.skip("a PostgreSQL setting")
    [row] = await reader().execute_query_dict("SHOW max_parallel_workers_per_gather")
    assert row["max_parallel_workers_per_gather"] == "0"


INDEXED_FILTERS = [EventFilter(model="gpt-4o"), EventFilter(user_id="u3"),
                   EventFilter(search="batch"), EventFilter(search="snake_case")]  # fmt: skip
# What each plan shows when an index answers the filter (SQLite; PostgreSQL).
MODEL_OR_USER = {
    "model": ("(project_id=? AND model=?)", r"Index Cond: .*\(?model\)?(::text)? = "),
    "user_id": ("(project_id=? AND user_id=?)", r"Index Cond: .*\(?user_id\)?(::text)? = "),
}


@pytest.mark.parametrize("f", INDEXED_FILTERS, ids=repr)
async def test_model_user_and_text_filters_read_an_index(
    world: World, f: EventFilter, caplog: pytest.LogCaptureFixture
) -> None:
    """A model or end-user filter reads events along (project, model|user_id, created_at),
    newest first, on both databases; a text filter on SQLite reads the full-text index
    (events_fts, in time order), so a page costs the same when the newest events do not
    match (issue 24: bench/graphql's newest 10,000 events match no filter). PostgreSQL's
    text filter walks the newest events, then its GIN index (app/services/reads_search.py);
    its tiny tables here are planned along the project's index whatever the setting."""
    plans = await _plans(world, f, caplog)
    assert len(plans) >= 2
    column = "model" if f.model else "user_id" if f.user_id else None
    for plan in plans:
        if column is not None:
            sqlite_shows, postgres_shows = MODEL_OR_USER[column]
            if world.backend == "sqlite":
                assert sqlite_shows in plan, plan
            else:
                assert re.search(postgres_shows, plan), plan
        assert not re.search(r"^SCAN (events|e|t)$", plan, re.M), plan
        assert "Seq Scan" not in plan, plan
    if column is None and world.backend == "sqlite":
        assert "VIRTUAL TABLE INDEX" in plans[0] and "SCAN events" not in plans[0], plans[0]
