"""End-user erasure against the rollups, on SQLite and PostgreSQL, through a real Ingestor.

A world of two projects whose end users share ids (the erased one included), with sessions
shared between users, feedback given and changed, errors, tags, and late events (their own
time, so on SQLite they land in minutes and hours already folded), over two days of a
walking clock. Then one user of project A is erased in the same transaction as more of its
events and a change of feedback on it (the accumulator already holds them), while the
current minute's cells are unfolded and their histograms remembered by SQLite's writer.

The oracle is `phospho rollups rebuild`: after the erasure (and more ingest into the same
cells, which must start from the subtracted histograms), every rollup row of both projects
equals what a rebuild from the remaining events gives. Project B is identical row for row
before and after, and no row anywhere names the erased user of A.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.services import rollups
from app.services.erasure import Erasure, erasure_job, forget_end_user
from app.services.ingest import Ingestor
from app.services.ingest_jobs import EventsJob, FoldJob, MaintenanceJob, prepare_event
from app.services.keys import Principal
from app.services.rollups import Rollups
from app.services.sql import Dialect, dialect, fetch
from app.services.store import Plan, Query
from app.services.validation import validate_event
from tests.factories import fresh_database, new_principal
from tests.harness import BACKENDS

BASE = datetime(2026, 10, 1, 0, 0, 10, tzinfo=UTC)
TARGET = "target ü/🙂 ?&#"  # the erased user: odd characters on purpose
USERS = [TARGET, "other", "third", None]
MODELS = ["gpt-4o", "mystery-model-x", None]


class Clock:
    """The Ingestor's clock, set before each commit."""

    def __init__(self) -> None:
        self.now = BASE

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    ingestor: Ingestor
    clock: Clock
    a: Principal
    b: Principal
    events: dict[int, list[str]] = field(default_factory=dict)  # project -> event ids


@pytest.fixture(scope="module", params=BACKENDS)
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    backend = str(request.param)
    clock = Clock()
    ingestor = Ingestor(clock=clock)
    async with fresh_database(backend, tmp_path_factory.mktemp(f"erase-{backend}"), ingestor):
        world = World(ingestor, clock, await new_principal("erase-a"), await new_principal("b"))
        await _seed(world)
        yield world


def _body(rng: random.Random, user: str | None, session: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    model = rng.choice(MODELS)
    if model:
        metadata["model"] = model
    if rng.random() < 0.8:
        metadata |= {"tokens_in": rng.randint(1, 900), "tokens_out": rng.randint(0, 400)}
    if rng.random() < 0.85:
        metadata["latency_ms"] = rng.choice([0.4, 12.5, 230.0, 1800.0, 42000.0])
    body: dict[str, Any] = {"input": "q", "output": "a", "metadata": metadata or None}
    if user is not None:
        body["user_id"] = user
    if session is not None:
        body["session_id"] = session
    if rng.random() < 0.2:
        body |= {"status": "error", "error": "boom"}
    if rng.random() < 0.3:
        body["tags"] = ["t1", "t2"][: rng.randint(1, 2)]
    return body


async def _commit(world: World, rng: random.Random, step: int) -> None:
    """One walk step: events of both projects, maybe late events and feedback, queued
    together (the writer usually groups them into one commit)."""
    jobs, projects = [], []
    for key in (world.a, world.b):
        bodies = [
            _body(rng, rng.choice(USERS), rng.choice(["s1", "s2", "s3", f"own-{step}", None]))
            for _ in range(rng.randint(1, 5))
        ]
        jobs.append(world.ingestor.log_events(key, {"events": bodies}))
        projects.append(key.project_id)
        if rng.random() < 0.3:  # late: its own time, its own session (one event each)
            ago = timedelta(seconds=rng.choice([5, 90, 4000, 90000]))
            late = [(_body(rng, rng.choice(USERS), f"late-{step}"), world.clock.now - ago)]
            jobs.append(world.ingestor.log_events_at(key, late))
            projects.append(key.project_id)
    for key in (world.a, world.b):  # feedback, often changing an earlier one
        known = world.events.get(key.project_id, [])
        for event_id in rng.sample(known, min(len(known), rng.randint(0, 3))):
            body = {"score": rng.randint(0, 1), "comment": "c"}
            jobs.append(world.ingestor.add_feedback(key, event_id, body))
    results = await asyncio.gather(*jobs)
    for project, stored in zip(projects, results, strict=False):
        world.events.setdefault(project, []).extend(str(r.event_id) for r in stored)


async def _seed(world: World) -> None:
    rng = random.Random(19)
    await world.ingestor.log_event(world.b, _fixed(TARGET, "b-own", "gpt-4o"))  # B's own
    # A session started by the target (gpt-4o) and continued by another user (no model):
    # after the erasure it stays, and its start moves to the other model's cell.
    await world.ingestor.log_event(world.a, _fixed(TARGET, "shared-first", "gpt-4o"))
    world.clock.now += timedelta(seconds=130)
    await world.ingestor.log_event(world.a, _fixed("other", "shared-first", None))
    for step in range(36):
        world.clock.now += timedelta(seconds=rng.choice([7, 50, 130, 3700, 20000]))
        await _commit(world, rng, step)
    # The current minute: the target's and another user's events in one cell, remembered by
    # SQLite's writer (its histogram) and not folded yet.
    world.clock.now += timedelta(seconds=3600 - world.clock.now.timestamp() % 3600 + 10)
    both = [_fixed(TARGET, "now", "gpt-4o"), _fixed("other", "now", "gpt-4o")]
    await world.ingestor.log_events(world.a, {"events": both})


def _fixed(user: str, session: str, model: str | None) -> dict[str, Any]:
    metadata = {"tokens_in": 10, "tokens_out": 5, "latency_ms": 99.0}
    return {
        "input": "q", "output": "a", "user_id": user, "session_id": session,
        "metadata": metadata | ({"model": model} if model else {}),
    }  # fmt: skip


def _tick(d: Dialect, accumulated: Rollups, now: datetime) -> Plan[None]:
    """A transaction that writes nothing of its own (SQLite: it folds what has passed)."""
    yield from ()


PROJECT_TABLES = (
    "events", "feedback", "event_tags", "sessions", "end_users", "metric_rollups", "user_rollups",
)  # fmt: skip


async def _state(project_id: int) -> dict[str, list[Any]]:
    """Every row of a project, table by table (raw: histograms as stored)."""
    d = dialect()
    state = {}
    for table in PROJECT_TABLES:
        rows = await fetch(d, f"SELECT * FROM {table} WHERE project_id = ?", [project_id])  # noqa: S608
        state[table] = sorted((sorted(row.items()) for row in rows), key=repr)
    return state


_SUMS = (
    "events", "tokens_in", "tokens_out", "cost_nano", "unpriced", "feedback_positive",
    "feedback_negative", "sessions", "errors",
)  # fmt: skip


async def _rollups(project_ids: list[int]) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The rollup rows of the projects, by cell: counts and histogram bins, rows and bins of
    zero left out (a cell that an erasure or a changed feedback emptied reads as none)."""
    d, marks = dialect(), ", ".join("?" * len(project_ids))
    metric: dict[Any, Any] = {}
    where = f"project_id IN ({marks})"
    for row in await fetch(d, f"SELECT * FROM metric_rollups WHERE {where}", project_ids):  # noqa: S608
        histogram: dict[int, int] = {}
        rollups.merge_into(histogram, row["latency_hist"])
        bins = tuple(sorted((b, n) for b, n in histogram.items() if n))
        counts = tuple(int(row[name]) for name in _SUMS)
        if any(counts) or bins:
            metric[(row["project_id"], row["level"], row["bucket"], row["model"])] = (counts, bins)
    users: dict[Any, Any] = {}
    for row in await fetch(d, f"SELECT * FROM user_rollups WHERE {where}", project_ids):  # noqa: S608
        counts = (int(row["events"]), int(row["cost_nano"]), int(row["unpriced"]))
        if any(counts):
            users[(row["project_id"], row["level"], row["bucket"], row["user_id"])] = counts
    return metric, users


async def _count(sql: str, *params: Any) -> int:
    rows = await fetch(dialect(), sql, list(params))
    return int(next(iter(rows[0].values())))


def _drop_rollups_before(project_id: int, cutoff: int) -> Any:
    """What a rollup window does: a project's rollup rows of whole days before `cutoff`
    deleted."""

    def plan(d: Dialect, accumulated: Rollups, now: datetime) -> Plan[None]:
        sql = "DELETE FROM metric_rollups WHERE project_id = ? AND bucket < ?"
        yield Query(d.sql(sql), [project_id, cutoff])

    return plan


async def test_cells_a_rollup_window_deleted_are_not_subtracted(world: World) -> None:
    """Events older than the rollups kept (retention's rollup window) are deleted without
    writing rows of negative counts; the cells kept drop by the user's share."""
    key, ingestor = await new_principal("erase-window"), world.ingestor
    now = world.clock.now
    old = now - timedelta(days=3)
    items = [(_fixed(user, f"{user}-old", "gpt-4o"), old) for user in ("x", "x", "y")]
    await ingestor.log_events_at(key, items)
    await ingestor.log_events(key, {"events": [_fixed(u, f"{u}-new", "gpt-4o") for u in "xy"]})
    cutoff = int(now.timestamp()) - int(now.timestamp()) % 86400 - 86400
    await ingestor.maintain(
        MaintenanceJob(key.project_id, _drop_rollups_before(key.project_id, cutoff), "window")
    )
    erased = await forget_end_user(ingestor, key.project_id, "x")
    assert erased.events == 3
    rows = await fetch(dialect(), "SELECT level, events, tokens_in, sessions FROM metric_rollups "
                       "WHERE project_id = ?", [key.project_id])  # fmt: skip
    assert rows and all(min(r["events"], r["tokens_in"], r["sessions"]) >= 0 for r in rows)
    assert {r["events"] for r in rows} == {1}, "y's event only, at each level written"


async def test_erasure_subtracts_exactly_what_a_rebuild_gives(world: World) -> None:
    a, b, ingestor = world.a.project_id, world.b.project_id, world.ingestor
    world.clock.now += timedelta(seconds=20)  # same minute as the last commit: not folded
    await ingestor.maintain(MaintenanceJob(a, _tick, "tick"))
    b_before = await _state(b)
    held = await _count(
        "SELECT COUNT(*) FROM events WHERE project_id = ? AND user_id = ?", a, TARGET
    )
    rated = await fetch(
        dialect(),
        "SELECT e.id FROM events e JOIN feedback f ON f.event_id = e.id "
        "WHERE e.project_id = ? AND e.user_id = ? LIMIT 1",
        [a, TARGET],
    )
    assert held > 10 and rated
    more = [_fixed(TARGET, "now", "gpt-4o"), _fixed(TARGET, "born-and-gone", "mystery-model-x")]
    two_hours_ago = world.clock.now - timedelta(hours=2)  # in hours already folded
    late = [
        prepare_event(validate_event(body), ("body",), two_hours_ago, occurred=two_hours_ago)
        for body in (_fixed(TARGET, "late", None), _fixed("other", "late-too", None))
    ]
    # One transaction: the target's new events (one late) and a changed feedback, then the
    # erasure.
    *_, erased = await asyncio.gather(
        ingestor.log_events(world.a, {"events": more}),
        ingestor.writer.submit(EventsJob(world.a, tuple(late))),  # as log_events_at does
        ingestor.add_feedback(world.a, str(rated[0]["id"]), {"score": 0}),
        ingestor.maintain(erasure_job(a, TARGET)),
    )
    assert erased.events == held + 3 and erased.end_users == 1 and erased.feedback > 0
    assert erased.sessions > 0 and erased.user_rollups > 0
    assert await _state(b) == b_before, "another project's rows are untouched"

    for table in ("events", "sessions", "end_users", "user_rollups"):
        sql = f"SELECT COUNT(*) FROM {table} WHERE project_id = ? AND user_id = ?"  # noqa: S608
        assert await _count(sql, a, TARGET) == 0, table
    for table in ("feedback", "event_tags"):
        orphans = f"SELECT COUNT(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = t.event_id)"  # noqa: S608,E501
        assert await _count(orphans) == 0, table
    assert await _count(
        "SELECT COUNT(*) FROM events WHERE project_id = ? AND user_id = ?", b, TARGET
    )
    shared = await fetch(
        dialect(), "SELECT user_id, event_count FROM sessions WHERE project_id = ? AND "
        "session_key = 'shared-first'", [a],
    )  # fmt: skip
    assert [(row["user_id"], row["event_count"]) for row in shared] == [("other", 1)]

    # More ingest into the cells just subtracted (SQLite: from the remembered histograms).
    await ingestor.log_events(world.a, {"events": [_fixed("other", "now", "gpt-4o")]})
    assert await forget_end_user(ingestor, a, TARGET) == Erasure(), "a repeat erases nothing"

    await ingestor.writer.submit(FoldJob())  # SQLite: every level whole, as a rebuild leaves it
    after_erasure = await _rollups([a, b])
    backend = ingestor.writer._backend
    assert backend is not None
    await backend.run(lambda: rollups.rebuild(backend.dialect, [a, b]))
    assert await _rollups([a, b]) == after_erasure
