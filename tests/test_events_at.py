"""Events that carry their own time (`Ingestor.log_events_at`, used by OpenTelemetry spans),
on SQLite and PostgreSQL: stored at that time and never in the future, each item validated
alone, sessions and end users spanning the times, retries stored once.

That late events are counted in the right rollup buckets (folded ones included) is held by
tests/test_metrics.py, whose seeded world mixes them into every commit.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.db import reader
from app.errors import Invalid
from app.services.ingest import EventResult, Ingestor
from app.services.keys import Principal
from app.services.sql import POSTGRES, SQLITE, as_datetime
from tests.factories import fresh_database, new_principal
from tests.harness import BACKENDS


@dataclass
class Db:
    ingestor: Ingestor
    backend: str
    key: Principal

    async def rows(self, sql: str, *params: object) -> list[dict[str, object]]:
        dialect = POSTGRES if self.backend == "postgres" else SQLITE
        return list((await reader().execute_query(dialect.sql(sql), list(params)))[1])


@pytest.fixture(scope="module", params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Db]:
    backend = str(request.param)
    ingestor = Ingestor()
    async with fresh_database(backend, tmp_path_factory.mktemp(f"at-{backend}"), ingestor):
        yield Db(ingestor, backend, await new_principal(f"events-at-{backend}"))


def _body(text: str, **extra: object) -> dict[str, object]:
    return {"input": text, "output": "out", **extra}


async def test_each_event_is_stored_at_its_own_time_and_never_in_the_future(db: Db) -> None:
    now = datetime.now(UTC)
    hour_ago, tomorrow = now - timedelta(hours=1), now + timedelta(days=1)
    results = await db.ingestor.log_events_at(
        db.key,
        [(_body("past", session_id="at-s1", user_id="at-u1"), hour_ago),
         (_body("future", session_id="at-s1", user_id="at-u1"), tomorrow)],
    )  # fmt: skip
    past, future = results
    assert isinstance(past, EventResult) and isinstance(future, EventResult)
    assert past.created_at == hour_ago
    assert now <= future.created_at <= datetime.now(UTC)  # clamped to the commit's time
    stored = await db.rows(
        "SELECT input, created_at FROM events WHERE session_key = ? ORDER BY created_at",
        "at-s1",
    )
    assert [(r["input"], as_datetime(r["created_at"])) for r in stored] == [
        ("past", hour_ago),
        ("future", future.created_at),
    ]
    session = await db.rows(
        "SELECT first_event_at, last_event_at, event_count FROM sessions WHERE session_key = ?",
        "at-s1",
    )
    assert (as_datetime(session[0]["first_event_at"]), session[0]["event_count"]) == (hour_ago, 2)
    assert as_datetime(session[0]["last_event_at"]) == future.created_at

    # A later export with an even earlier event widens the end user's first sighting.
    day_ago = now - timedelta(days=1)
    await db.ingestor.log_events_at(db.key, [(_body("older", user_id="at-u1"), day_ago)])
    user = await db.rows("SELECT first_seen, last_seen, event_count FROM end_users "
                         "WHERE user_id = ?", "at-u1")  # fmt: skip
    assert as_datetime(user[0]["first_seen"]) == day_ago
    assert as_datetime(user[0]["last_seen"]) == future.created_at
    assert user[0]["event_count"] == 3


async def test_an_invalid_item_is_answered_in_its_place_and_the_others_stored(db: Db) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    results = await db.ingestor.log_events_at(
        db.key,
        [(_body("ok-1"), at), ({"input": "no output"}, at),
         (_body("bad", metadata={"tokens_in": -1}), at), (_body("ok-2"), at)],
    )  # fmt: skip
    ok1, missing, negative, ok2 = results
    assert isinstance(missing, Invalid) and "output" in str(missing)
    assert isinstance(negative, Invalid) and "tokens_in" in str(negative)
    assert isinstance(ok1, EventResult) and isinstance(ok2, EventResult)
    stored = await db.rows("SELECT input FROM events WHERE input IN ('ok-1', 'ok-2', 'bad')")
    assert sorted(r["input"] for r in stored) == ["ok-1", "ok-2"]
    assert await db.ingestor.log_events_at(db.key, []) == []


async def test_a_resent_event_is_answered_as_a_retry_and_stored_once(db: Db) -> None:
    event_id = str(uuid.uuid4())
    at = datetime.now(UTC) - timedelta(hours=3)
    first = await db.ingestor.log_events_at(db.key, [(_body("once", event_id=event_id), at)])
    again = await db.ingestor.log_events_at(db.key, [(_body("once", event_id=event_id), at)])
    assert isinstance(first[0], EventResult) and isinstance(again[0], EventResult)
    assert (first[0].duplicate, again[0].duplicate) == (False, True)
    assert again[0].created_at == at
    stored = await db.rows("SELECT COUNT(*) AS n FROM events WHERE input = 'once'")
    assert stored[0]["n"] == 1


async def test_more_events_than_a_batch_are_stored_in_several_jobs(db: Db) -> None:
    at = datetime.now(UTC) - timedelta(seconds=30)
    results = await db.ingestor.log_events_at(
        db.key, [(_body(f"many-{i}", session_id="at-many"), at) for i in range(2500)]
    )
    assert all(isinstance(r, EventResult) and not r.duplicate for r in results)
    stored = await db.rows("SELECT event_count FROM sessions WHERE session_key = 'at-many'")
    assert stored[0]["event_count"] == 2500
