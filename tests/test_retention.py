"""Retention (app/services/retention.py, app/services/deletion.py) in process, on SQLite and
PostgreSQL: the window to the second, what goes with an event and what is recounted, other
projects, the per-project override, the rollups kept (and their own window), the dry run, and
PostgreSQL's one sweeper at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from app.db import reader
from app.services.ingest import Ingestor
from app.services.ingest_jobs import MaintenanceJob
from app.services.keys import Principal
from app.services.retention import DAY, rollup_cutoff, sweep
from app.services.retention_preview import preview
from app.services.retention_sweeper import LOCK_KEY, SweepSettings, sweep_once
from app.services.rollups import Rollups
from app.services.sql import Dialect, dialect
from app.services.store import Plan, Query
from models import Project
from tests.factories import fresh_database, new_principal
from tests.harness import BACKENDS

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


@dataclass
class Db:
    backend: str
    url: str
    ingestor: Ingestor


@pytest.fixture(scope="module", params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Db]:
    backend = str(request.param)
    # Every commit is stamped NOW: the window's bound is exactly NOW - days.
    ingestor = Ingestor(clock=lambda: NOW)
    directory = tmp_path_factory.mktemp(f"retention-{backend}")
    async with fresh_database(backend, directory, ingestor) as url:
        yield Db(backend, url, ingestor)


async def rows(sql: str, *params: Any) -> list[dict[str, Any]]:
    d = dialect()
    result: list[dict[str, Any]] = await reader().execute_query_dict(d.sql(sql), list(params))
    return result


async def log(
    ingestor: Ingestor, key: Principal, *events: tuple[datetime, dict[str, Any]]
) -> list[str]:
    """Store events at their own times; their ids."""
    body = [({"input": "i", "output": "o", **fields}, at) for at, fields in events]
    results = await ingestor.log_events_at(key, body)
    return [str(result.event_id) for result in results]  # type: ignore[union-attr]


async def set_window(project_id: int, days: int | None) -> None:
    await Project.filter(id=project_id).update(retention_days=days)


async def fold(ingestor: Ingestor) -> None:
    """A commit at NOW, which folds what has passed (SQLite), so later snapshots of the
    rollups compare like with like."""

    def plan(d: Dialect, rollups: Rollups, now: datetime) -> Plan[None]:
        yield Query(d.sql("SELECT 1"), [])

    await ingestor.maintain(MaintenanceJob(0, plan, "fold"))


def at(days: float, seconds: float = 0) -> datetime:
    return NOW - timedelta(days=days, seconds=seconds)


@dataclass
class Seeded:
    key: Principal
    other: Principal
    expired: list[str]
    kept: list[str]


@pytest.fixture(scope="module")
async def seeded(db: Db) -> Seeded:
    """Project "p" (window 2 days): session s1 and user u1 only expired events, s2 and u2 one
    expired and one kept; feedback and tags on both kinds. Project "other" (no window) holds
    the same old events."""
    key = await new_principal(f"p-{db.backend}")
    other = await new_principal(f"other-{db.backend}")
    meta = {"model": "gpt-4o", "latency_ms": 120.0, "tokens_in": 3, "tokens_out": 4}
    expired = await log(
        db.ingestor,
        key,
        (at(2, 1), {"session_id": "s1", "user_id": "u1", "tags": ["a", "b"], "metadata": meta}),
        (at(5), {"session_id": "s1", "user_id": "u1"}),
        (at(3), {"session_id": "s2", "user_id": "u2", "tags": ["a"]}),
    )
    kept = await log(
        db.ingestor,
        key,
        (at(2), {"session_id": "s2", "user_id": "u2", "metadata": meta}),  # the bound itself
        (at(2, -1), {"session_id": "s3", "user_id": "u2", "tags": ["c"]}),  # 1 s inside
    )
    await log(db.ingestor, other, (at(30), {"session_id": "s1", "user_id": "u1"}))
    for event_id in (expired[0], expired[2], kept[0]):
        await db.ingestor.add_feedback(key, event_id, {"score": 1, "comment": "x"})
    return Seeded(key, other, expired, kept)


async def snapshot(project_id: int) -> dict[str, Any]:
    """Every row of the project that a sweep may touch."""
    tables = {
        "events": "SELECT id FROM events",
        "feedback": "SELECT event_id FROM feedback",
        "tags": "SELECT event_id, tag FROM event_tags",
        "sessions": "SELECT session_key, event_count, first_event_at, last_event_at FROM sessions",
        "end_users": "SELECT user_id, event_count, first_seen, last_seen FROM end_users",
        "metric_rollups": "SELECT level, bucket, model, events, sessions, feedback_positive, "
        "latency_hist FROM metric_rollups",
        "user_rollups": "SELECT level, bucket, user_id, events FROM user_rollups",
    }
    return {
        name: sorted(
            str(sorted(row.items()))
            for row in await rows(f"{sql} WHERE project_id = ?", project_id)
        )
        for name, sql in tables.items()
    }


async def test_the_sweep_deletes_what_is_expired_and_settles_the_rest(
    db: Db, seeded: Seeded
) -> None:
    project = seeded.key.project_id
    await fold(db.ingestor)
    rollups_before = await snapshot(project)
    other_before = await snapshot(seeded.other.project_id)
    # Default window 0 (forever): nothing happens until the project gets its own.
    report = await sweep(db.ingestor, 0, 0, project_id=project, pause_factor=0)
    assert sum(report.projects[w].events for w in report.projects) == 0
    await set_window(project, 2)
    dry = await preview(0, 0, project, now=NOW)
    assert len(await rows("SELECT id FROM events WHERE project_id = ?", project)) == 5

    report = await sweep(db.ingestor, 0, 0, project_id=project, pause_factor=0, chunk=2)
    (deleted,) = report.projects.values()
    assert deleted.as_dict() == {
        "events": 3, "feedback": 2, "tags": 3, "sessions": 1, "end_users": 1,
    }  # fmt: skip
    # The dry run counted the same, before, and deleted nothing itself.
    assert dry.projects and next(iter(dry.projects.values())).as_dict() == deleted.as_dict()

    left = await rows("SELECT id FROM events WHERE project_id = ?", project)
    assert sorted(str(row["id"]) for row in left) == sorted(seeded.kept)
    feedback = await rows("SELECT event_id FROM feedback WHERE project_id = ?", project)
    assert [str(row["event_id"]) for row in feedback] == [seeded.kept[0]]
    tags = await rows("SELECT tag FROM event_tags WHERE project_id = ?", project)
    assert [row["tag"] for row in tags] == ["c"]
    sessions = await rows(
        "SELECT session_key, event_count, first_event_at FROM sessions WHERE project_id = ? "
        "ORDER BY session_key",
        project,
    )
    assert [(s["session_key"], s["event_count"]) for s in sessions] == [("s2", 1), ("s3", 1)]
    assert _time(sessions[0]["first_event_at"]) == at(2)  # recounted from what is left
    users = await rows(
        "SELECT user_id, event_count, first_seen, last_seen FROM end_users WHERE project_id = ?",
        project,
    )
    assert [(u["user_id"], u["event_count"]) for u in users] == [("u2", 2)]
    assert (_time(users[0]["first_seen"]), _time(users[0]["last_seen"])) == (at(2), at(2, -1))
    # The Overview's history stays whole; the other project is untouched.
    after = await snapshot(project)
    for table in ("metric_rollups", "user_rollups"):
        assert after[table] == rollups_before[table]
    assert await snapshot(seeded.other.project_id) == other_before
    # A second pass finds nothing.
    again = await sweep(db.ingestor, 0, 0, project_id=project, pause_factor=0)
    assert next(iter(again.projects.values())).events == 0


async def test_chunks_take_their_events_off_the_counts_of_a_long_session_and_user(
    db: Db, seeded: Seeded
) -> None:
    """Chunks of 3 over one session and end user of 11 events (8 expired, some sharing the
    user with other sessions): after every chunk the counts are what the events say (they
    are decremented by what each chunk deleted, not counted again)."""
    key = await new_principal(f"long-{db.backend}")
    await set_window(key.project_id, 2)
    await log(
        db.ingestor,
        key,
        *[(at(10 - n), {"session_id": "long", "user_id": "many"}) for n in range(8)],
        (at(3), {"session_id": "other", "user_id": "many"}),
        *[(at(1, n), {"session_id": "long", "user_id": "many"}) for n in range(3)],
    )
    report = await sweep(db.ingestor, 0, 0, project_id=key.project_id, pause_factor=0, chunk=3)
    assert next(iter(report.projects.values())).as_dict() == {
        "events": 9, "feedback": 0, "tags": 0, "sessions": 1, "end_users": 0,
    }  # fmt: skip
    truth = await rows(
        "SELECT session_key, user_id, COUNT(*) AS n, MIN(created_at) AS first, "
        "MAX(created_at) AS last FROM events WHERE project_id = ? GROUP BY session_key, user_id",
        key.project_id,
    )
    assert [(t["session_key"], t["n"]) for t in truth] == [("long", 3)]
    (session,) = await rows(
        "SELECT session_key, event_count, first_event_at, last_event_at FROM sessions "
        "WHERE project_id = ?",
        key.project_id,
    )
    assert (session["session_key"], session["event_count"]) == ("long", 3)
    assert _time(session["first_event_at"]) == _time(truth[0]["first"]) == at(1, 2)
    assert _time(session["last_event_at"]) == _time(truth[0]["last"]) == at(1)
    (user,) = await rows(
        "SELECT event_count, first_seen, last_seen FROM end_users WHERE project_id = ?",
        key.project_id,
    )
    assert user["event_count"] == 3
    assert (_time(user["first_seen"]), _time(user["last_seen"])) == (at(1, 2), at(1))


async def test_a_project_window_beats_the_default_and_zero_means_forever(
    db: Db, seeded: Seeded
) -> None:
    follows = await new_principal(f"follows-{db.backend}")  # NULL: the server's default
    forever = await new_principal(f"forever-{db.backend}")
    for key in (follows, forever):
        await log(db.ingestor, key, (at(10), {"session_id": "s"}), (at(1), {"session_id": "s"}))
    await set_window(forever.project_id, 0)
    for key in (follows, forever):
        await sweep(db.ingestor, 7, 0, project_id=key.project_id, pause_factor=0)
    count = "SELECT COUNT(*) AS n FROM events WHERE project_id = ?"
    assert (await rows(count, follows.project_id))[0]["n"] == 1
    assert (await rows(count, forever.project_id))[0]["n"] == 2
    await set_window(forever.project_id, 20)  # its own window, longer than the default
    await sweep(db.ingestor, 7, 0, project_id=forever.project_id, pause_factor=0)
    assert (await rows(count, forever.project_id))[0]["n"] == 2
    await set_window(forever.project_id, 5)
    await sweep(db.ingestor, 7, 0, project_id=forever.project_id, pause_factor=0)
    assert (await rows(count, forever.project_id))[0]["n"] == 1


async def test_the_rollup_window_deletes_only_whole_days_before_it(db: Db, seeded: Seeded) -> None:
    key = await new_principal(f"rollups-{db.backend}")
    meta = {"model": "m", "latency_ms": 10.0}
    await log(
        db.ingestor,
        key,
        *[(at(days), {"user_id": "u", "metadata": meta}) for days in (40, 31, 29, 1)],
    )
    await fold(db.ingestor)
    bound = rollup_cutoff(NOW, 30)
    count = "SELECT COUNT(*) AS n FROM {} WHERE project_id = ? AND bucket < ?"
    old = {t: (await rows(count.format(t), key.project_id, bound))[0]["n"]
           for t in ("metric_rollups", "user_rollups")}  # fmt: skip
    assert old["metric_rollups"] >= 6 and old["user_rollups"] >= 4  # two days, every level
    kept_before = await rows(
        "SELECT level, bucket, events FROM metric_rollups WHERE project_id = ? AND bucket >= ?",
        key.project_id, bound,
    )  # fmt: skip
    dry = await preview(0, 30, now=NOW)
    report = await sweep(db.ingestor, 0, 30, pause_factor=0)
    assert report.rollups.metric_rollups == dry.rollups.metric_rollups >= old["metric_rollups"]
    for table in ("metric_rollups", "user_rollups"):
        assert (await rows(count.format(table), key.project_id, bound))[0]["n"] == 0
    kept_after = await rows(
        "SELECT level, bucket, events FROM metric_rollups WHERE project_id = ? AND bucket >= ?",
        key.project_id, bound,
    )  # fmt: skip
    assert sorted(map(str, kept_after)) == sorted(map(str, kept_before))
    assert bound % DAY == 0 and bound <= int((NOW - timedelta(days=30)).timestamp())
    # The events themselves are the event window's business: all four are still there.
    events = await rows("SELECT COUNT(*) AS n FROM events WHERE project_id = ?", key.project_id)
    assert events[0]["n"] == 4


async def test_postgres_lets_one_process_sweep_at_a_time(db: Db, seeded: Seeded) -> None:
    if db.backend != "postgres":
        pytest.skip("the advisory lock is PostgreSQL's")
    key = await new_principal("locked")
    await log(db.ingestor, key, *[(at(9), {"session_id": f"s{i}"}) for i in range(40)])
    await set_window(key.project_id, 1)
    settings = SweepSettings(db.url, 0, 0, 60.0)
    holder = await asyncpg.connect(db.url)
    try:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        assert await sweep_once(db.ingestor, settings, key.project_id) is None  # skipped
    finally:
        await holder.close()  # the lock goes with its connection
    count = "SELECT COUNT(*) AS n FROM events WHERE project_id = ?"
    assert (await rows(count, key.project_id))[0]["n"] == 40
    # Two sweepers at once (chunks of 2 with pauses: the first is still at it when the
    # second asks): one sweeps, the other is skipped.
    first, second = await asyncio.gather(
        _slow_sweep(db.ingestor, settings, key.project_id),
        _slow_sweep(db.ingestor, settings, key.project_id),
    )
    assert sorted([first is None, second is None]) == [False, True]
    assert (await rows(count, key.project_id))[0]["n"] == 0


async def _slow_sweep(ingestor: Ingestor, settings: SweepSettings, project_id: int) -> Any:
    return await sweep_once(ingestor, settings, project_id, chunk=2, pause_factor=5)


def _time(value: Any) -> datetime:
    from app.services.sql import as_datetime

    return as_datetime(value)
