"""The overview's top end users stay exact while SQLite keeps what the folded hours hold
(app/services/rollups/settled.py): after current-hour events, a late event in a folded hour,
an erasure, an hour passing, a rebuild and a retention sweep, each read equals the raw events
(and the uncached sums), on both databases."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.db import reader
from app.services import pricing, rollups
from app.services.erasure import forget_end_user
from app.services.ingest import Ingestor
from app.services.keys import Principal
from app.services.retention import ProjectWindow, prune_rollups, sweep_project
from app.services.rollups import settled
from app.services.sql import dialect
from tests.factories import fresh_database, new_principal
from tests.harness import BACKENDS

BASE = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)
TOP = 3


class Clock:
    """The Ingestor's clock, set by the test before each commit."""

    def __init__(self) -> None:
        self.now = BASE

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    ingestor: Ingestor
    clock: Clock
    who: Principal
    backend: str
    events: list[tuple[str, datetime, int, int]] = field(default_factory=list)  # user, at, …

    async def log(self, users: list[str], rng: random.Random) -> None:
        """One commit at the clock's time: an event per user, priced or unpriced."""
        bodies, figures = [], []
        for user in users:
            cost = rng.choice([None, 0.001, 0.25, 3.5])
            meta = {"model": "no-such-model", "tokens_in": 5} if cost is None else {
                "cost_usd": cost}  # fmt: skip
            bodies.append({"input": "q", "output": "a", "user_id": user, "metadata": meta})
            figures.append((0, 1) if cost is None else (pricing.to_nano(cost), 0))
        results = await self.ingestor.log_events(self.who, {"events": bodies})
        for user, result, (cost_nano, unpriced) in zip(users, results, figures, strict=True):
            self.events.append((user, result.created_at, cost_nano, unpriced))

    async def log_at(self, user: str, at: datetime) -> None:
        """A late event (its own time, as an OpenTelemetry span), priced."""
        body = {"input": "q", "output": "a", "user_id": user, "metadata": {"cost_usd": 7.0}}
        (result,) = await self.ingestor.log_events_at(self.who, [(body, at)])
        self.events.append((user, result.created_at, pricing.to_nano(7.0), 0))


@pytest.fixture(params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """A fresh database per backend, 30 hours of events for 8 end users with a long tail."""
    clock = Clock()
    ingestor = Ingestor(clock=clock)
    async with fresh_database(str(request.param), tmp_path, ingestor):
        world = World(ingestor, clock, await new_principal("settled"), str(request.param))
        rng = random.Random(7)
        for hour in range(30):
            for minute in (5, 35):
                clock.now = BASE + hour * HOUR + timedelta(minutes=minute)
                users = [f"u{min(int(rng.expovariate(0.4)), 7)}" for _ in range(rng.randint(1, 6))]
                await world.log(users, rng)
        yield world


def expected(world: World, since: datetime, until: datetime) -> tuple[Any, ...]:
    """The top lists and counts of [since, until) from the raw events."""
    before = since - (until - since)
    sums: dict[str, list[int]] = {}
    previous = set()
    for user, at, cost, unpriced in world.events:
        if since <= at < until:
            figures = sums.setdefault(user, [0, 0, 0])
            figures[0] += 1
            figures[1] += cost
            figures[2] += unpriced
        elif before <= at < since:
            previous.add(user)
    by_events = sorted(sums.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:TOP]
    costly = [kv for kv in sums.items() if kv[1][1] > 0]
    by_cost = sorted(costly, key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:TOP]
    return ([(u, *f) for u, f in by_events], [(u, *f) for u, f in by_cost], len(sums),
            len(previous))  # fmt: skip


async def read(world: World, since: datetime, until: datetime) -> tuple[Any, ...]:
    """`rollups.top_users` of [since, until) at hour level, read three times (SQLite: the
    first after a change reads the window whole, the second keeps its folded hours, the third
    reads only what lies after them), each checked against the uncached sums of every end
    user."""
    d, project = dialect(), world.who.project_id
    before = since - (until - since)
    users, active_before = await rollups.user_sums(d, project, rollups.HOUR, before, since, until)
    answers = []
    for _ in range(3):
        found = await rollups.top_users(d, project, rollups.HOUR, before, since, until, TOP)
        assert (found.active, found.active_before) == (len(users), active_before)
        assert found.by_events == sorted(
            users, key=lambda u: (-u.events, -u.cost_nano, u.user_id))[:TOP]  # fmt: skip
        answers.append(found)
    assert answers[0] == answers[1] == answers[2]
    if world.backend == "sqlite":
        kept = settled._entries[reader()][(project, rollups.HOUR, *(
            int(at.timestamp()) for at in (before, since, until)))]  # fmt: skip
        assert isinstance(kept, settled._Entry)
    found = answers[0]
    return ([tuple(u) for u in found.by_events], [tuple(u) for u in found.by_cost],
            found.active, found.active_before)  # fmt: skip


async def test_top_users_follow_every_change(world: World) -> None:
    """Each kind of write that can change a window's end users shows at the next read."""
    clock, rng = world.clock, random.Random(11)
    current = BASE + 29 * HOUR  # the hour of the last commit
    since, until = current - 23 * HOUR, current + HOUR  # the overview's 24 h
    assert await read(world, since, until) == expected(world, since, until)

    clock.now = current + timedelta(minutes=50)  # this hour: a user climbs to the top
    await world.log(["u7"] * 40, rng)
    assert await read(world, since, until) == expected(world, since, until)

    await world.log_at("u6", current - 5 * HOUR)  # late: an hour folded long ago
    await world.log_at("u5", since - 3 * HOUR)  # late, in the previous window
    assert await read(world, since, until) == expected(world, since, until)

    top = (await read(world, since, until))[0][0][0]
    await forget_end_user(world.ingestor, world.who.project_id, top)
    world.events = [event for event in world.events if event[0] != top]
    assert await read(world, since, until) == expected(world, since, until)

    clock.now = current + HOUR + timedelta(minutes=1)  # the next hour folds this one
    await world.log(["u1", "u2"], rng)
    assert await read(world, since, until) == expected(world, since, until)
    assert await read(world, since + HOUR, until + HOUR) == expected(world, since + HOUR,
                                                                     until + HOUR)  # fmt: skip

    backend = world.ingestor.writer._backend
    assert backend is not None
    await backend.run(lambda: rollups.rebuild(backend.dialect, [world.who.project_id]))
    assert await read(world, since, until) == expected(world, since, until)


async def test_top_users_after_a_retention_sweep(world: World) -> None:
    """A sweep deletes expired events (and end users left without any), then the rollup rows
    past their window: each next read equals the uncached sums of what is left. Another
    project's event first folds the hours that passed, so the sweeps change folded hours
    alone."""
    since, until = BASE + 6 * HOUR, BASE + 30 * HOUR
    other = await new_principal("settled-other")

    async def at(hours: int) -> tuple[Any, ...]:
        world.clock.now = BASE + hours * HOUR
        await world.ingestor.log_events(other, {"events": [{"input": "x", "output": "y"}]})
        return await read(world, since, until)

    await world.log_at("early", BASE + 8 * HOUR)  # an end user with no event after 18 h
    first = await at(42)  # events of a day before: older than 18 h expire
    assert first == expected(world, since, until)
    deleted = await sweep_project(world.ingestor, ProjectWindow(world.who.project_id, "s", 1))
    assert 0 < deleted.events < len(world.events)
    assert deleted.end_users == 1
    after = await read(world, since, until)  # `read` checks it against the uncached sums
    # The rollups stay, and so does the Overview's history (README, Retention), on both
    # databases: SQLite lists the deleted end user in `departed_users`.
    assert after == first
    # Erasing the departed end user takes it out of the Overview, and out of the list.
    await forget_end_user(world.ingestor, world.who.project_id, "early")
    world.events = [event for event in world.events if event[0] != "early"]
    erased = await read(world, since, until)
    assert erased == expected(world, since, until)
    assert erased[2] == first[2] - 1
    if world.backend == "sqlite":
        assert await departed(world) == []
    await at(49)  # the rollup rows of the first day go
    pruned = await prune_rollups(world.ingestor, 1)
    assert pruned.user_rollups > 0
    final = await read(world, since, until)
    assert final[0][0][1] < after[0][0][1]  # the busiest user's hours 6 to 23 are gone


async def departed(world: World) -> list[str]:
    """SQLite: the project's end users listed in `departed_users`."""
    _, rows = await reader().execute_query(
        "SELECT user_id FROM departed_users WHERE project_id = ? ORDER BY user_id",
        [world.who.project_id],
    )
    return [row[0] for row in rows]


async def test_departed_end_users_keep_their_place_until_their_rollups_go(world: World) -> None:
    """A sweep that deletes an end user (every event expired) leaves the Overview's top end
    users as they were, on both databases (README, Retention: "top end users ... keep their
    history"); SQLite lists it in `departed_users` until rollup retention deletes its rows,
    and no more once it comes back."""
    since, until = BASE + 6 * HOUR, BASE + 30 * HOUR
    other = await new_principal("departed-other")
    world.clock.now = BASE + 42 * HOUR
    await world.log_at("gone", BASE + 8 * HOUR)
    await world.log_at("gone", BASE + 9 * HOUR)
    await world.log_at("back", BASE + 10 * HOUR)
    await world.ingestor.log_events(other, {"events": [{"input": "x", "output": "y"}]})
    first = await read(world, since, until)
    assert first == expected(world, since, until)
    deleted = await sweep_project(world.ingestor, ProjectWindow(world.who.project_id, "s", 1))
    assert deleted.end_users >= 2
    assert await read(world, since, until) == first
    if world.backend == "sqlite":
        assert {"gone", "back"} <= set(await departed(world))
    await world.log_at("back", BASE + 41 * HOUR)  # comes back: listed once, as an end user
    assert await read(world, since, until) == first
    world.clock.now = BASE + 73 * HOUR  # two days on: the first day's rollup rows go
    await world.ingestor.log_events(other, {"events": [{"input": "x", "output": "y"}]})
    await prune_rollups(world.ingestor, 1)
    if world.backend == "sqlite":
        assert "gone" not in await departed(world)


async def test_a_window_past_the_watermark_is_read_whole(world: World) -> None:
    """Nothing written for hours: the watermark lags, and a window that lies mostly after it
    is read whole (kept, each read would hand over every user row since), still exact."""
    d, project = dialect(), world.who.project_id
    since, until = BASE + 12 * HOUR, BASE + 36 * HOUR  # the last commit was in hour 29
    before = since - (until - since)
    for _ in range(3):
        found = await rollups.top_users(d, project, rollups.HOUR, before, since, until, TOP)
        by_events, by_cost, active, previous = expected(world, since, until)
        assert [tuple(u) for u in found.by_events] == by_events
        assert [tuple(u) for u in found.by_cost] == by_cost
        assert (found.active, found.active_before) == (active, previous)
    if world.backend == "sqlite":
        assert not settled._entries.get(reader())


async def test_a_window_of_too_many_end_users_is_read_whole(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past USERS kept end users a window is not kept (memory stays bounded): each read is
    whole, still exact, without reading the folded hours again while the count holds."""
    monkeypatch.setattr(settled, "USERS", 3)
    d, project = dialect(), world.who.project_id
    since, until = BASE + 6 * HOUR, BASE + 30 * HOUR
    before = since - (until - since)
    for _ in range(4):
        found = await rollups.top_users(d, project, rollups.HOUR, before, since, until, TOP)
        by_events, by_cost, active, previous = expected(world, since, until)
        assert ([tuple(u) for u in found.by_events], [tuple(u) for u in found.by_cost]) == (
            by_events, by_cost)  # fmt: skip
        assert (found.active, found.active_before) == (active, previous)
    if world.backend == "sqlite":
        (kept,) = settled._entries[reader()].values()
        assert isinstance(kept, settled._Whole)
