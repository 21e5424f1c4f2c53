"""The live bus: commit order, tenant isolation, bounded queues that say when they overflowed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from app.db import apply_migrations, close_orm, init_orm
from app.live import (
    REVOKED,
    Credential,
    EventLogged,
    FeedbackAdded,
    LiveBus,
    LiveFilter,
    Overflow,
    Subscription,
)
from app.live_pg import PostgresBridge
from app.services.ingest import Ingestor
from app.services.keys import Principal, create_api_key
from app.services.projects import get_or_create_project
from app.services.write_backends import write_backend_for
from app.settings import Settings
from tests.harness import PG_ADMIN_URL, create_pg_database, drop_pg_database

KEY = Credential("key", 1)


def event(project_id: int, n: int) -> EventLogged:
    """A message numbered `n` (its session id carries the number)."""
    return EventLogged(project_id, uuid.uuid4(), f"s{n}", None, None, datetime.now(UTC))


async def test_messages_arrive_in_publish_order_for_the_right_project() -> None:
    bus = LiveBus()
    async with bus.subscribe(1) as mine, bus.subscribe(2) as theirs:
        bus.publish([event(1, n) for n in range(5)] + [event(2, 99)])
        got = [await mine.get() for _ in range(5)]
        assert [m.session_id for m in got if isinstance(m, EventLogged)] == [
            f"s{n}" for n in range(5)
        ]
        other = await theirs.get()
        assert isinstance(other, EventLogged) and other.session_id == "s99"


async def test_a_reader_that_falls_behind_is_told_then_resumes() -> None:
    bus = LiveBus()
    async with bus.subscribe(1, max_queue=3) as slow:
        bus.publish([event(1, n) for n in range(10)])
        received = [await slow.get() for _ in range(4)]
        assert [m.session_id for m in received[:3] if isinstance(m, EventLogged)] == [
            "s0",
            "s1",
            "s2",
        ]
        assert received[3] == Overflow(missed=7)
        bus.publish([event(1, 10)])
        after = await slow.get()
        assert isinstance(after, EventLogged) and after.session_id == "s10"


async def test_nothing_after_a_gap_is_delivered_before_the_marker() -> None:
    bus = LiveBus()
    async with bus.subscribe(1, max_queue=2) as sub:
        bus.publish([event(1, 0), event(1, 1), event(1, 2)])  # s2 is lost
        first = await sub.get()
        bus.publish([event(1, 3)])  # room again, but the reader has not seen the marker yet
        rest = [await sub.get(), await sub.get()]
        assert isinstance(first, EventLogged) and first.session_id == "s0"
        assert isinstance(rest[0], EventLogged) and rest[0].session_id == "s1"
        assert rest[1] == Overflow(missed=2)


async def test_a_stalled_reader_never_slows_publishing() -> None:
    bus = LiveBus()
    async with bus.subscribe(1, max_queue=10):
        messages = [event(1, n) for n in range(100_000)]
        started = time.perf_counter()
        bus.publish(messages)
        assert time.perf_counter() - started < 1.0


async def test_a_reader_catching_up_takes_what_is_queued_in_order_up_to_a_marker() -> None:
    bus = LiveBus()
    async with bus.subscribe(1, max_queue=3) as sub, bus.subscribe(1, credential=KEY) as ended:
        bus.publish([event(1, n) for n in range(5)])  # s3 and s4 are lost
        batch = await sub.get_many()
        assert [m.session_id for m in batch[:3] if isinstance(m, EventLogged)] == ["s0", "s1", "s2"]
        assert batch[3:] == [Overflow(missed=2)]  # the marker ends the batch
        bus.publish([event(1, 5), event(1, 6)])
        later = await sub.get_many(limit=1)
        assert [m.session_id for m in later if isinstance(m, EventLogged)] == ["s5"]
        bus.revoke([KEY])
        assert await ended.get_many() == [REVOKED]  # at once, whatever was queued


def test_live_filter_matches_tag_and_status_on_the_message() -> None:
    """A stream filtered by tag or status judges the bus message alone (no read needed)."""
    now = datetime.now(UTC)
    tagged = EventLogged(1, uuid.uuid4(), "s", None, None, now, "error", ("prod", "eu"))
    plain = EventLogged(1, uuid.uuid4(), "s", None, None, now)
    assert LiveFilter(tag="eu").admits(tagged) and not LiveFilter(tag="eu").admits(plain)
    assert LiveFilter(status="error").admits(tagged) and not LiveFilter(status="ok").admits(tagged)
    assert not LiveFilter(status="error").admits(plain)  # unknown status matches neither
    assert not LiveFilter(tag="prod", status="ok").admits(tagged)


async def test_closing_releases_the_subscription() -> None:
    bus = LiveBus()
    async with bus.subscribe(7):
        assert bus.subscriber_count(7) == 1
    assert bus.subscriber_count() == 0
    bus.publish([event(7, 1)])  # no subscriber: nothing to do, nothing kept


@pytest.fixture(scope="module")
async def ingest(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Ingestor, Principal, Principal]]:
    """The real write path on a throwaway SQLite database, with two projects."""
    data: Path = tmp_path_factory.mktemp("live")
    url = f"sqlite://{data / 'live.sqlite3'}"
    await apply_migrations(url)
    await init_orm(Settings(database_url=url, data_dir=data))
    ingestor = Ingestor()
    await ingestor.start(write_backend_for(url))
    principals = []
    for name in ("live-a", "live-b"):
        project = await get_or_create_project(name)
        key = (await create_api_key(project.id)).key
        principals.append(Principal(key_id=key.id, project_id=project.id))
    try:
        yield ingestor, principals[0], principals[1]
    finally:
        await ingestor.stop()
        await close_orm()


async def test_committed_writes_are_published_before_the_caller_is_answered(
    ingest: tuple[Ingestor, Principal, Principal],
) -> None:
    ingestor, mine, theirs = ingest
    async with ingestor.bus.subscribe(mine.project_id) as sub:
        body = {"input": "q", "output": "a", "session_id": "live-1", "user_id": "u"}
        first = await ingestor.log_event(mine, {**body, "metadata": {"model": "gpt-4"}})
        await ingestor.log_event(theirs, {"input": "q", "output": "a"})
        batch = await ingestor.log_events(
            mine, {"events": [{"input": str(n), "output": "a"} for n in range(3)]}
        )
        feedback = await ingestor.add_feedback(mine, str(first.event_id), {"score": 0})
        retry = await ingestor.log_event(
            mine, {"input": "q", "output": "a", "event_id": str(first.event_id)}
        )
        assert retry.duplicate
        assert sub._queue.qsize() == 5  # already there when each call returned; retry not resent
        got = [await sub.get() for _ in range(5)]
    assert [m.kind for m in got] == ["event", "event", "event", "event", "feedback"]
    head = got[0]
    assert isinstance(head, EventLogged)
    assert (head.event_id, head.session_id, head.user_id, head.model) == (
        first.event_id,
        "live-1",
        "u",
        "gpt-4",
    )
    assert [m.event_id for m in got[1:4] if isinstance(m, EventLogged)] == [
        r.event_id for r in batch
    ]
    tail = got[4]
    assert isinstance(tail, FeedbackAdded)
    assert (tail.event_id, tail.feedback_id, tail.score) == (
        first.event_id,
        feedback.feedback_id,
        0,
    )
    assert ingestor.bus.subscriber_count() == 0


@pytest.fixture
async def pg_pair() -> AsyncIterator[tuple[str, Ingestor, Ingestor, PostgresBridge, Principal]]:
    """Two 'processes' on one PostgreSQL database: each its own writer, bus and LISTEN bridge."""
    if not PG_ADMIN_URL:
        pytest.skip("PostgreSQL not selected (PHOSPHO_TEST_POSTGRES)")
    url = create_pg_database()
    await apply_migrations(url)
    await init_orm(Settings(database_url=url))
    a, b = Ingestor(bus=LiveBus()), Ingestor(bus=LiveBus())
    bridges = [PostgresBridge(i.bus, url, i.origin, retry_seconds=0.1) for i in (a, b)]
    for ingestor, bridge in zip((a, b), bridges, strict=True):
        await ingestor.start(write_backend_for(url))
        await bridge.start()
    project = await get_or_create_project("pg-live")
    key = (await create_api_key(project.id)).key
    try:
        yield url, a, b, bridges[0], Principal(key_id=key.id, project_id=project.id)
    finally:
        for ingestor, bridge in zip((a, b), bridges, strict=True):
            await ingestor.stop()
            await bridge.stop()
        await close_orm()
        drop_pg_database(url)


async def next_message(sub: Subscription) -> EventLogged | FeedbackAdded | Overflow:
    """The next message, failing the test after 10 s."""
    return await asyncio.wait_for(sub.get(), 10)


async def test_postgres_commits_reach_other_processes_once(
    pg_pair: tuple[str, Ingestor, Ingestor, PostgresBridge, Principal],
) -> None:
    _, a, b, _, principal = pg_pair
    async with a.bus.subscribe(principal.project_id) as sub:
        remote = await b.log_event(principal, {"input": "q", "output": "a", "session_id": "from-b",
                                               "tags": ["x", "y"], "error": "boom"})  # fmt: skip
        local = await a.log_event(principal, {"input": "q", "output": "a", "session_id": "from-a"})
        got = [await next_message(sub), await next_message(sub)]
        assert {m.event_id for m in got if isinstance(m, EventLogged)} == {
            remote.event_id,
            local.event_id,
        }
        # What streams filter on crosses processes too (app/live.py's LiveFilter).
        heard_remote = next(
            m for m in got if isinstance(m, EventLogged) and m.session_id == "from-b"
        )
        assert (heard_remote.status, heard_remote.tags) == ("error", ("x", "y"))
        feedback = await b.add_feedback(principal, str(local.event_id), {"score": 1})
        heard = await next_message(sub)
        assert isinstance(heard, FeedbackAdded) and heard.feedback_id == feedback.feedback_id
        await asyncio.sleep(0.3)
        assert sub._queue.empty()  # own commits are not echoed back through LISTEN


async def test_after_a_lost_connection_the_bridge_catches_up(
    pg_pair: tuple[str, Ingestor, Ingestor, PostgresBridge, Principal],
) -> None:
    url, a, b, bridge, principal = pg_pair
    name = url.rsplit("/", 1)[1]
    async with a.bus.subscribe(principal.project_id) as sub:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(%s)", (bridge._conn.get_server_pid(),))  # type: ignore[union-attr]
            for _ in range(100):
                if not bridge.connected.is_set():
                    break
                await asyncio.sleep(0.05)
            assert not bridge.connected.is_set()
            missed = await b.log_event(principal, {"input": "while down", "output": "a",
                                                   "tags": ["late"], "status": "ok"})  # fmt: skip
            await asyncio.sleep(0.3)  # the NOTIFY went nowhere: the bridge cannot reconnect yet
            assert sub._queue.empty()
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        caught = await next_message(sub)
        assert isinstance(caught, EventLogged) and caught.event_id == missed.event_id
        assert (caught.status, caught.tags) == ("ok", ("late",))
        after = await b.log_event(principal, {"input": "after", "output": "a"})
        again = await next_message(sub)
        assert isinstance(again, EventLogged) and again.event_id == after.event_id
