"""Metrics from the rollups equal metrics computed independently from the raw events.

Seeded through the real write path (an in-process Ingestor whose clock walks through three
days), on SQLite and PostgreSQL. Every figure is recomputed here from what the test sent:
counts, token sums and costs exactly (costs priced by genai-prices directly), latency
percentiles within 2% of the exact nearest-rank value.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage, calc_price

from app.db import apply_migrations, close_orm, init_orm, reader
from app.errors import Invalid
from app.services import metrics as metrics_service
from app.services import pricing, rollups
from app.services.ingest import Ingestor
from app.services.keys import Principal
from app.services.metrics import GroupBy, Metrics, Window, align
from app.services.sql import POSTGRES, SQLITE, as_datetime
from app.services.write_backends import write_backend_for
from app.settings import Settings
from tests.factories import assert_every_level_counts, fresh_database, new_principal
from tests.harness import BACKENDS

BASE = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet-20241022", "mystery-model-x", None]


@dataclass
class Raw:
    """An event as the test sent it, and when it was committed."""

    id: uuid.UUID
    at: datetime
    session: str
    user: str | None
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    latency: float | None
    cost_usd: float | None
    status: str | None = None

    def cost_nano(self) -> int | None:
        """The expected cost, from the client's cost_usd or genai-prices itself."""
        if self.cost_usd is not None:
            return pricing.to_nano(Decimal(self.cost_usd))
        if self.model is None or (self.tokens_in is None and self.tokens_out is None):
            return None
        usage = Usage(input_tokens=self.tokens_in or 0, output_tokens=self.tokens_out or 0)
        try:
            price = calc_price(usage, self.model, genai_request_timestamp=datetime.now(UTC))
        except LookupError:
            return None
        return pricing.to_nano(price.total_price)


@dataclass
class World:
    """Project `a` (rich data), `b` (noise in the same buckets) and what was sent."""

    ingestor: Ingestor
    backend: str
    a: Principal
    b: Principal
    events: list[Raw] = field(default_factory=list)
    # event id -> [(time, score)] in submission order
    feedback: dict[uuid.UUID, list[tuple[datetime, int]]] = field(default_factory=dict)


class Clock:
    """The Ingestor's clock, set by the test before each commit."""

    def __init__(self) -> None:
        self.now = BASE

    def __call__(self) -> datetime:
        return self.now


def _body(rng: random.Random, index: int) -> dict[str, Any]:
    model = rng.choice(MODELS)
    metadata: dict[str, Any] = {}
    if model is not None:
        metadata["model"] = model
    if rng.random() < 0.85:
        metadata["tokens_in"] = rng.randint(0, 5000)
    if rng.random() < 0.85:
        metadata["tokensOut" if rng.random() < 0.3 else "tokens_out"] = rng.randint(0, 2000)
    if rng.random() < 0.9:
        metadata["latency_ms"] = round(rng.lognormvariate(6, 1), 3)
    if rng.random() < 0.05:
        metadata["cost_usd"] = round(rng.random() / 100, 6)
    user = rng.choice([f"user-{n}" for n in range(12)] + [None])
    body: dict[str, Any] = {"input": f"q{index}", "output": "a", "metadata": metadata or None}
    body["session_id"] = f"s{index // 4}"
    if user is not None:
        body["user_id"] = user
    # Status by index (not from `rng`, so the other figures stay as they were): some errors
    # with their text, some with status only, some ok, the rest unknown.
    if index % 7 == 0:
        body["error"] = f"failure {index}"
    elif index % 11 == 0:
        body["status"] = "error"
    elif index % 3 == 0:
        body["status"] = "ok"
    return body


def _raw(result: Any, body: dict[str, Any]) -> Raw:
    meta = body.get("metadata") or {}
    return Raw(
        result.event_id, result.created_at, result.session_id, body.get("user_id"),
        meta.get("model"), meta.get("tokens_in"), meta.get("tokens_out", meta.get("tokensOut")),
        meta.get("latency_ms"), meta.get("cost_usd"),
        "error" if "error" in body else body.get("status"),
    )  # fmt: skip


async def _seed(world: World, clock: Clock) -> None:
    rng = random.Random(5)
    offsets = sorted(rng.uniform(0, 3 * 86400) for _ in range(90))
    index = 0
    for offset in offsets:
        clock.now = BASE + timedelta(seconds=offset)
        bodies = [_body(rng, index + i) for i in range(rng.randint(1, 12))]
        index += len(bodies)
        late = _late(rng, clock.now, index) if rng.random() < 0.25 else []
        results, timed = await asyncio.gather(  # usually one commit: the writer groups them
            world.ingestor.log_events(world.a, {"events": bodies}),
            world.ingestor.log_events_at(world.a, late),
        )
        index += len(late)
        world.events += [_raw(r, b) for r, b in zip(results, bodies, strict=True)]
        world.events += [_raw(r, b) for r, (b, _) in zip(timed, late, strict=True)]
        noise = {"events": [{"input": "b", "output": "b", "user_id": "user-1",
                             "metadata": {"model": "gpt-4o", "tokens_in": 10**6}}]}  # fmt: skip
        await world.ingestor.log_events(world.b, noise)
    for _ in range(70):  # feedback, some of it changing an event's earlier feedback
        target = rng.choice(world.events[: len(world.events) // 2] + world.events[-5:])
        clock.now = max(target.at, clock.now) + timedelta(minutes=rng.randint(0, 400))
        score = rng.randint(0, 1)
        await world.ingestor.add_feedback(world.a, str(target.id), {"score": score})
        world.feedback.setdefault(target.id, []).append((clock.now, score))
    clock.now = BASE + timedelta(days=10)


def _late(rng: random.Random, now: datetime, index: int) -> list[tuple[dict[str, Any], datetime]]:
    """Events that arrive late with their own time (as OpenTelemetry spans do): seconds to two
    days before the commit (not before BASE), so on SQLite most land in minutes and hours
    already folded. Their
    sessions are their own (a session's start is its first commit's earliest event)."""
    events = []
    for i in range(rng.randint(1, 6)):
        body = _body(rng, index + i)
        body["session_id"] = f"late-{index}-{i // 3}"
        ago = timedelta(seconds=rng.choice([5, 90, 4000, 90000, 170000]))
        events.append((body, max(BASE, now - ago)))  # the windows below start at BASE
    return events


@pytest.fixture(scope="module", params=BACKENDS)
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """A throwaway database per backend, seeded through the Ingestor with a walking clock."""
    backend = str(request.param)
    clock = Clock()
    ingestor = Ingestor(clock=clock)
    async with fresh_database(backend, tmp_path_factory.mktemp(f"metrics-{backend}"), ingestor):
        principals = []
        for name in ("metrics-a", "metrics-b"):
            principals.append(await new_principal(name))
        world = World(ingestor, backend, *principals)
        await _seed(world, clock)
        yield world


# --- Independent computation ---------------------------------------------------------------


def exact_percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the ⌈q·n⌉-th smallest value."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def expected(
    world: World, since: datetime, until: datetime, model: Any = ..., among: Any = None
) -> dict[str, Any]:
    """The figures of [since, until) computed from the raw events (optionally one model, or
    the models in `among`)."""

    def counted(event_model: str | None) -> bool:
        return model in (..., event_model) and (among is None or event_model in among)

    events = [e for e in world.events if since <= e.at < until and counted(e.model)]
    costs = [e.cost_nano() for e in events]
    latencies = [e.latency for e in events if e.latency is not None]
    models = {e.id: e.model for e in world.events}
    positive = negative = 0
    for event_id, given in world.feedback.items():
        at, score = given[-1]  # the current feedback is the latest
        if since <= at < until and counted(models[event_id]):
            positive += score
            negative += 1 - score
    return {
        "events": len(events),
        "tokens_in": sum(e.tokens_in or 0 for e in events),
        "tokens_out": sum(e.tokens_out or 0 for e in events),
        "cost_nano": sum(c for c in costs if c is not None),
        "unpriced": sum(
            1
            for e, c in zip(events, costs, strict=True)
            if c is None and (e.tokens_in is not None or e.tokens_out is not None)
        ),
        "feedback": (positive, negative),
        "latencies": latencies,
        "errors": sum(1 for e in events if e.status == "error"),
    }


def check_figures(figures: metrics_service.Figures, want: dict[str, Any]) -> None:
    """Counts, sums and cost exact; percentiles within 2% of the exact ones."""
    assert figures.events == want["events"]
    assert (figures.tokens_in, figures.tokens_out) == (want["tokens_in"], want["tokens_out"])
    assert round(figures.cost_usd * pricing.NANO) == want["cost_nano"]
    assert figures.unpriced_events == want["unpriced"]
    assert (figures.feedback_positive, figures.feedback_negative) == want["feedback"]
    assert figures.errors == want["errors"]
    rate = want["errors"] / want["events"] if want["events"] else None
    assert figures.error_rate == rate  # errors over every event, unknown status included
    got = (figures.latency_p50, figures.latency_p95, figures.latency_p99)
    if not want["latencies"]:
        assert got == (None, None, None)
        return
    for q, value in zip((0.5, 0.95, 0.99), got, strict=True):
        exact = exact_percentile(want["latencies"], q)
        assert value is not None and abs(value - exact) <= 0.02 * exact, (q, value, exact)


WINDOWS = [
    ("3 days by hour", BASE, BASE + timedelta(days=3), "1h"),
    ("3 days by day", BASE, BASE + timedelta(days=3), "1d"),
    # Hours at both ends of a whole day: PostgreSQL reads end users' day rows in the middle.
    ("2 days from 5 am by hour", BASE + timedelta(hours=5), BASE + timedelta(hours=55), "1h"),
    ("an afternoon by 6h", BASE + timedelta(hours=30), BASE + timedelta(hours=47), "6h"),
    ("5 hours by minute", BASE + timedelta(hours=20), BASE + timedelta(hours=25), "1m"),
    ("5 hours by 15 minutes", BASE + timedelta(hours=40), BASE + timedelta(hours=45), "15m"),
]


@pytest.mark.parametrize(("name", "since", "until", "bucket"), WINDOWS, ids=[w[0] for w in WINDOWS])
async def test_summary_equals_raw_events(
    world: World, name: str, since: datetime, until: datetime, bucket: str
) -> None:
    """Totals, the previous period, sessions and end users match the raw events."""
    window = align(since, until, metrics_service.BUCKETS[bucket])
    got = await metrics_service.metrics(world.a.project_id, window)
    check_figures(got.summary.figures, expected(world, window.since, window.until))
    previous = window.previous
    check_figures(got.previous.figures, expected(world, previous.since, previous.until))
    for summary, span in ((got.summary, window), (got.previous, previous)):
        assert summary.sessions == _sessions_started(world, span)
        users = {e.user for e in world.events if span.since <= e.at < span.until and e.user}
        assert summary.end_users == len(users)


@pytest.mark.parametrize(("name", "since", "until", "bucket"), WINDOWS, ids=[w[0] for w in WINDOWS])
async def test_every_point_of_every_model_series(
    world: World, name: str, since: datetime, until: datetime, bucket: str
) -> None:
    """Grouped by model: one series per model, every bucket (empty ones too) exact."""
    window = align(since, until, metrics_service.BUCKETS[bucket])
    got = await metrics_service.metrics(world.a.project_id, window, GroupBy.MODEL)
    present = {e.model for e in world.events if window.since <= e.at < window.until}
    assert {s.model for s in got.series} >= present
    ungrouped = await metrics_service.metrics(world.a.project_id, window)
    assert got.series == got.series_by_model == ungrouped.series_by_model
    step = timedelta(seconds=window.bucket)
    for series in got.series:
        assert len(series.points) == window.points
        for i, point in enumerate(series.points):
            assert point.start == window.since + i * step
            check_figures(
                point.figures, expected(world, point.start, point.start + step, series.model)
            )
    for row in got.models:
        check_figures(row.figures, expected(world, window.since, window.until, row.model))
    events = [row.figures.events for row in got.models]
    assert events == sorted(events, reverse=True)


async def test_models_past_the_busiest_are_summed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_MODELS models, one last series and row sum the others (exact as well)."""
    monkeypatch.setattr(metrics_service, "MAX_MODELS", 2)
    window = align(BASE, BASE + timedelta(days=3), metrics_service.BUCKETS["6h"])
    got = await metrics_service.metrics(world.a.project_id, window, GroupBy.MODEL)
    present = [e.model for e in world.events if window.since <= e.at < window.until]
    ranked = sorted(set(present), key=lambda m: (-present.count(m), m or ""))
    busiest, rest = ranked[:2], set(ranked[2:])
    assert len(rest) >= 2
    assert [(s.model, s.other_models) for s in got.series] == [
        *((model, 0) for model in busiest),
        (None, len(rest)),
    ]
    assert [(row.model, row.other_models) for row in got.models] == [
        (s.model, s.other_models) for s in got.series
    ]
    step = timedelta(seconds=window.bucket)
    for series, row, model in zip(got.series, got.models, [*busiest, ...], strict=True):
        among = rest if model is ... else None
        check_figures(row.figures, expected(world, window.since, window.until, model, among))
        for point in series.points:
            want = expected(world, point.start, point.start + step, model, among)
            check_figures(point.figures, want)
    check_figures(got.summary.figures, expected(world, window.since, window.until))


async def test_single_series_and_top_users(world: World) -> None:
    """Ungrouped: one series over every event; top users by events and by cost."""
    window = align(BASE, BASE + timedelta(days=3), metrics_service.BUCKETS["1h"])
    got = await metrics_service.metrics(world.a.project_id, window)
    assert [s.model for s in got.series] == [None]
    assert sum(p.figures.events for p in got.series[0].points) == len(world.events)
    per_user: dict[str, list[int]] = {}
    for event in world.events:
        if event.user:
            entry = per_user.setdefault(event.user, [0, 0])
            entry[0] += 1
            entry[1] += event.cost_nano() or 0
    by_events = sorted(per_user.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:10]
    assert [(u.user_id, u.events) for u in got.top_users_by_events] == [
        (user, counts[0]) for user, counts in by_events
    ]
    by_cost = sorted(per_user.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:10]
    assert [(u.user_id, round(u.cost_usd * pricing.NANO)) for u in got.top_users_by_cost] == [
        (user, counts[1]) for user, counts in by_cost
    ]


async def test_sqlite_top_users_ranked_in_sql_equal_the_exact_ranking(world: World) -> None:
    """SQLite ranks the overview's end users in SQL (app/services/rollups/reads.py, handing
    Python ~20 rows instead of one per end user): the same lists, ties broken the same way,
    and the same counts as every end user's exact sums ranked in Python."""
    if world.backend != "sqlite":
        pytest.skip("PostgreSQL ranks its own way (_TOP_USERS)")
    project = world.a.project_id
    for since, hours, level in ((BASE, 1, rollups.HOUR), (BASE, 30, rollups.HOUR),
                                (BASE + timedelta(hours=5), 24, rollups.HOUR),
                                (BASE, 72, rollups.DAY)):  # fmt: skip
        until = since + timedelta(hours=hours)
        before = since - (until - since)
        fast = await rollups.reads._sqlite_top_users(SQLITE, project, level, before, since,
                                                     until, 3)  # fmt: skip
        users, active_before = await rollups.user_sums(SQLITE, project, level, before, since,
                                                       until)  # fmt: skip
        assert fast is not None
        assert (fast.active, fast.active_before) == (len(users), active_before)
        assert (
            fast.by_events == sorted(users, key=lambda u: (-u.events, -u.cost_nano, u.user_id))[:3]
        )
        costly = [u for u in users if u.cost_nano > 0]
        assert (
            fast.by_cost == sorted(costly, key=lambda u: (-u.cost_nano, -u.events, u.user_id))[:3]
        )


async def test_other_projects_never_leak(world: World) -> None:
    """Project b logged an event next to every batch of a's: none of it is counted for a."""
    window = align(BASE, BASE + timedelta(days=3), metrics_service.BUCKETS["1d"])
    a = await metrics_service.metrics(world.a.project_id, window)
    b = await metrics_service.metrics(world.b.project_id, window)
    assert a.summary.figures.events == len(world.events)
    assert b.summary.figures.events == 90
    assert b.summary.figures.tokens_in == 90 * 10**6
    assert [u.user_id for u in b.top_users_by_events] == ["user-1"]


async def test_one_rollup_row_per_level_and_model_per_commit(world: World) -> None:
    """A batch of 50 events over two models upserts one row per model at each level it writes,
    not 50: on PostgreSQL every level; on SQLite the minute only while that minute is current,
    the hour and day rows following in the first commit after it. End users: on PostgreSQL
    hour and day rows; on SQLite the counts of the current hour stay in the end_users row
    (written anyway), moved to hour and day rows once the hour has passed. The metrics count
    what is not folded yet, so they are exact all along."""
    who = await new_principal(f"metrics-rows-{world.backend}")
    clock = world.ingestor.clock
    assert isinstance(clock, Clock)
    saved, start = clock.now, BASE + timedelta(days=30, seconds=30)  # past every fold so far
    lazy = world.backend == "sqlite"

    async def levels(table: str) -> list[tuple[int, str, int]]:
        sql = {
            "metric_rollups": "SELECT level, model AS k, events FROM metric_rollups",
            "user_rollups": "SELECT level, user_id AS k, events FROM user_rollups",
        }[table]
        rows = await reader().execute_query_dict(
            _sql(world, sql + " WHERE project_id = ?"), [who.project_id]
        )
        return sorted((r["level"], r["k"], r["events"]) for r in rows)

    async def end_user_hour() -> list[tuple[int, int]]:
        rows = await reader().execute_query_dict(
            _sql(world, "SELECT hour_bucket, hour_events FROM end_users WHERE project_id = ?"),
            [who.project_id],
        )
        return [(r["hour_bucket"], r["hour_events"]) for r in rows]

    async def events_counted() -> list[int]:
        windows = [Window(start - timedelta(hours=h), start + timedelta(hours=h), b)
                   for h, b in ((1, 60), (3, 3600), (48, 86400))]  # fmt: skip
        found = [await metrics_service.metrics(who.project_id, window) for window in windows]
        return [m.summary.figures.events for m in found] + [m.summary.end_users for m in found]

    try:
        clock.now = start
        bodies = [{"input": "x", "output": "y", "user_id": "u", "metadata": {"model": f"m{i % 2}"}}
                  for i in range(50)]  # fmt: skip
        await world.ingestor.log_events(who, {"events": bodies})
        written = rollups.LEVELS[:1] if lazy else rollups.LEVELS
        assert await levels("metric_rollups") == [
            (level, model, 25) for level in written for model in ("m0", "m1")
        ]
        user_levels = () if lazy else rollups.USER_LEVELS
        assert await levels("user_rollups") == [(lv, "u", 50) for lv in user_levels]
        assert await end_user_hour() == (
            [(int(start.timestamp()) // 3600 * 3600, 50)] if lazy else [(0, 0)]
        )
        assert await events_counted() == [50, 50, 50, 1, 1, 1]
        clock.now = start + timedelta(minutes=1)
        await world.ingestor.log_events(who, {"events": bodies[:1]})  # folds the first minute
        coarse = [(level, model, 25) for level in rollups.LEVELS[1:] for model in ("m0", "m1")]
        assert [row for row in await levels("metric_rollups") if row[0] > 60] == (
            coarse if lazy else [(lv, m, n + (m == "m0")) for lv, m, n in coarse]
        )
        assert await events_counted() == [51, 51, 51, 1, 1, 1]
        clock.now = start + timedelta(hours=1)
        await world.ingestor.log_events(who, {"events": bodies[1:2]})  # folds the first hour
        assert [row for row in await levels("user_rollups") if row[2] >= 51] == [
            (rollups.HOUR, "u", 51),
            (rollups.DAY, "u", 51 if lazy else 52),
        ]  # the first hour, whole on both; SQLite adds the second hour's day row later
        hour = int((start + timedelta(hours=1)).timestamp()) // 3600 * 3600
        assert await end_user_hour() == ([(hour, 1)] if lazy else [(0, 0)])
        assert await events_counted() == [52, 52, 52, 1, 1, 1]
    finally:
        clock.now = saved


async def test_end_user_hours_stay_exact_when_the_clock_goes_back(world: World) -> None:
    """SQLite keeps an end user's counts of the current hour in its end_users row; a commit
    stamped in an hour already folded (the clock set back) goes to user_rollups instead and
    leaves that row alone. Per-user figures stay exact on both databases."""
    who = await new_principal(f"metrics-clock-back-{world.backend}")
    clock = world.ingestor.clock
    assert isinstance(clock, Clock)
    saved, start = clock.now, BASE + timedelta(days=40, minutes=30)  # past every fold so far
    hour = timedelta(hours=1)

    async def log(at: datetime, users: list[str]) -> None:
        clock.now = at
        bodies = [{"input": "x", "output": "y", "user_id": user} for user in users]
        await world.ingestor.log_events(who, {"events": bodies})

    async def per_user(since: datetime, until: datetime, bucket: int) -> dict[str, int]:
        found = await metrics_service.metrics(who.project_id, Window(since, until, bucket))
        assert found.summary.end_users == len(found.top_users_by_events)
        return {user.user_id: user.events for user in found.top_users_by_events}

    try:
        await log(start, ["u"] * 3)
        await log(start + hour, ["u"] * 2)  # folds the first hour
        await log(start, ["u", "v"])  # the clock set back: an hour already folded
        kept = await reader().execute_query_dict(
            _sql(world, "SELECT user_id, hour_events FROM end_users WHERE project_id = ?"),
            [who.project_id],
        )
        lazy = world.backend == "sqlite"
        assert sorted((r["user_id"], r["hour_events"]) for r in kept) == (
            [("u", 2), ("v", 0)] if lazy else [("u", 0), ("v", 0)]
        )
        first = start - timedelta(minutes=30)
        assert await per_user(first, first + hour, 3600) == {"u": 4, "v": 1}
        assert await per_user(first + hour, first + 2 * hour, 3600) == {"u": 2}
        assert await per_user(first - hour, first + 3 * hour, 3600) == {"u": 6, "v": 1}
        # The hour kept in u's row (SQLite) counts in a previous window too.
        later = Window(first + 2 * hour, first + 3 * hour, 3600)
        found = await metrics_service.metrics(who.project_id, later)
        assert (found.summary.end_users, found.previous.end_users) == (0, 1)
        day = datetime.fromtimestamp(int(first.timestamp()) // 86400 * 86400, UTC)
        assert await per_user(day, day + timedelta(days=1), 86400) == {"u": 6, "v": 1}
    finally:
        clock.now = saved


async def test_a_session_starts_once_in_its_first_commit(world: World) -> None:
    """Sessions started come from the rollups: counted in the commit that creates a session,
    never again (later events, retries of stored events, a clock set back), and they match
    the sessions table's first_event_at on both databases."""
    who = await new_principal(f"metrics-sessions-{world.backend}")
    clock = world.ingestor.clock
    assert isinstance(clock, Clock)
    saved, start = clock.now, BASE + timedelta(days=50, minutes=30)
    hour = timedelta(hours=1)

    async def log(at: datetime, events: list[dict[str, Any]]) -> None:
        clock.now = at
        await world.ingestor.log_events(who, {"events": events})

    async def started(since: datetime, until: datetime) -> tuple[int, int]:
        found = await metrics_service.metrics(who.project_id, align(since, until, 3600))
        return found.summary.sessions, found.previous.sessions

    retried = {"input": "x", "output": "y", "session_id": "b", "event_id": str(uuid.uuid4())}
    try:
        await log(start, [{"input": "x", "output": "y", "session_id": key} for key in "aab"])
        await log(start + hour, [{"input": "x", "output": "y", "session_id": "a"}, retried])
        await log(start + hour, [retried, {"input": "x", "output": "y", "session_id": "c"}])
        await log(start - hour, [{"input": "x", "output": "y", "session_id": "a"}])  # set back
        first = start - timedelta(minutes=30)
        assert await started(first, first + hour) == (2, 0)  # a and b; a's early event: none
        assert await started(first + hour, first + 2 * hour) == (1, 2)  # c
        assert await started(first - hour, first + 2 * hour) == (3, 0)
        rows = await reader().execute_query_dict(
            _sql(world, "SELECT session_key, first_event_at, event_count FROM sessions "
                        "WHERE project_id = ? ORDER BY session_key"),
            [who.project_id],
        )  # fmt: skip
        assert [(r["session_key"], r["event_count"]) for r in rows] == [
            ("a", 4),
            ("b", 2),
            ("c", 1),
        ]
        firsts = [as_datetime(r["first_event_at"]) for r in rows]
        assert firsts == [start, start, start + hour], "first_event_at never moves"
    finally:
        clock.now = saved


async def test_a_stopping_server_folds_every_row(tmp_path: Path) -> None:
    """SQLite: stopping the writer folds the rows of the current minute and hour, so the
    database it leaves has every level whole; the next writer starts after them."""
    url = f"sqlite://{tmp_path / 'phospho.sqlite3'}"
    clock = Clock()
    clock.now = BASE + timedelta(seconds=10)
    await apply_migrations(url)
    await init_orm(Settings(database_url=url, data_dir=tmp_path))
    ingestor = Ingestor(clock=clock)
    await ingestor.start(write_backend_for(url))
    try:
        who = await new_principal("folds")
        event = {"input": "x", "output": "y", "user_id": "u", "metadata": {"model": "m"}}
        # Each commit writes its minute rows, and its end user's counts in the end_users row
        # (a new database too: nothing of its first minute or hour is stored yet); the second
        # (the next hour) first folds the first one's into the coarser levels.
        for minutes in (0, 65):
            clock.now = BASE + timedelta(minutes=minutes, seconds=10)
            await ingestor.log_events(who, {"events": [event, event]})
            if minutes == 0:
                levels = await reader().execute_query_dict("SELECT level FROM metric_rollups")
                assert [r["level"] for r in levels] == [60]
                assert await reader().execute_query_dict("SELECT * FROM user_rollups") == []
        rows = await reader().execute_query_dict(
            "SELECT level, SUM(events) AS n FROM metric_rollups GROUP BY level ORDER BY level"
        )
        assert [(r["level"], r["n"]) for r in rows] == [(60, 4), (3600, 2), (86400, 2)]
        users = await reader().execute_query_dict(
            "SELECT level, SUM(events) AS n FROM user_rollups GROUP BY level ORDER BY level"
        )
        assert [(r["level"], r["n"]) for r in users] == [(3600, 2), (86400, 2)]  # the first
        kept = await reader().execute_query_dict("SELECT hour_events FROM end_users")
        assert [r["hour_events"] for r in kept] == [2]
        await ingestor.stop()
        rows = await reader().execute_query_dict(
            "SELECT level, SUM(events) AS n FROM metric_rollups GROUP BY level ORDER BY level"
        )
        assert [(r["level"], r["n"]) for r in rows] == [(60, 4), (3600, 4), (86400, 4)]
        users = await reader().execute_query_dict(
            "SELECT level, SUM(events) AS n FROM user_rollups GROUP BY level ORDER BY level"
        )
        assert [(r["level"], r["n"]) for r in users] == [(3600, 4), (86400, 4)]
        folds = await reader().execute_query_dict("SELECT level, before FROM rollup_folds")
        minute = int((BASE + timedelta(minutes=65)).timestamp())
        assert {r["level"]: r["before"] for r in folds} == {
            0: 2,  # rollups.SETTLED: the two folds that moved end users' hours
            60: minute + 60,
            3600: minute - 300 + 3600,
        }
    finally:
        await ingestor.stop()  # again: a no-op once stopped
        await close_orm()


async def test_rebuild_reproduces_the_rollups_and_prices_old_events(world: World) -> None:
    """Rebuilding from events gives the same metrics; events stored without a cost (before
    this release) are priced by the rebuild."""
    window = align(BASE, BASE + timedelta(days=3), metrics_service.BUCKETS["1h"])
    before = await metrics_service.metrics(world.a.project_id, window, GroupBy.MODEL)
    assert before.summary.figures.errors > 0  # the rebuild must count them too
    estimated = [
        str(e.id) for e in world.events
        if e.model == "gpt-4o" and e.cost_usd is None and e.cost_nano() is not None
    ]  # fmt: skip
    assert estimated
    marks = ", ".join("?" * len(estimated))
    sql = f"UPDATE events SET cost_nano = NULL WHERE id IN ({marks})"  # noqa: S608
    await reader().execute_query(_sql(world, sql), _ids(world, estimated))
    backend = world.ingestor.writer._backend
    assert backend is not None
    report = await backend.run(lambda: rollups.rebuild(backend.dialect, [world.a.project_id]))
    assert (report.events, report.repriced) == (len(world.events), len(estimated))
    after = await metrics_service.metrics(world.a.project_id, window, GroupBy.MODEL)
    assert _comparable(after) == _comparable(before)


def _comparable(got: Metrics) -> Any:
    return (got.summary, got.previous, got.series, got.models)


def _sessions_started(world: World, window: Window) -> int:
    first: dict[str, datetime] = {}
    for event in world.events:
        first[event.session] = min(first.get(event.session, event.at), event.at)
    return sum(1 for at in first.values() if window.since <= at < window.until)


def _ids(world: World, ids: list[str]) -> list[Any]:
    return [uuid.UUID(i) for i in ids] if world.backend == "postgres" else ids


def _sql(world: World, text: str) -> str:
    return (POSTGRES if world.backend == "postgres" else SQLITE).sql(text)


# --- Pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_histogram_percentiles_within_two_percent(seed: int) -> None:
    """Random data of several shapes and sizes: every percentile within 2% of the exact."""
    rng = random.Random(seed)
    size = rng.choice([1, 2, 7, 100, 5000])
    shape = [
        lambda: rng.lognormvariate(5, 2),
        lambda: rng.uniform(0.5, 60000),
        lambda: rng.expovariate(1 / 300),
        lambda: rng.choice([12.0, 800.0, 801.5]),
    ][seed % 4]
    values = [shape() for _ in range(size)]
    histogram: dict[int, int] = {}
    for value in values:
        index = rollups.bin_of(value)
        histogram[index] = histogram.get(index, 0) + 1
    for q in (0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0):
        got = rollups.percentile(histogram, q)
        exact = exact_percentile(values, q)
        assert got is not None and abs(got - exact) <= 0.02 * exact, (q, got, exact)
    assert rollups.percentile({}, 0.5) is None


def test_prices_match_genai_prices_for_every_known_model() -> None:
    """The per-model linear fast path agrees with genai-prices' own calc_price everywhere."""
    from genai_prices import data_snapshot

    rng = random.Random(1)
    now = datetime.now(UTC)
    checked = 0
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            tokens_in, tokens_out = rng.randint(0, 300_000), rng.randint(0, 40_000)
            try:
                usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out)
                want = calc_price(usage, model.id, genai_request_timestamp=now)
            except LookupError:
                continue
            assert pricing.cost_nano(model.id, tokens_in, tokens_out, now) == pricing.to_nano(
                want.total_price
            ), model.id
            checked += 1
    assert checked > 500
    # A price that changes with the time of day (DeepSeek's off-peak hours) follows the time.
    day, night = datetime(2026, 1, 5, 12, tzinfo=UTC), datetime(2026, 1, 5, 18, tzinfo=UTC)
    for at in (day, night):
        usage = Usage(input_tokens=1000, output_tokens=1000)
        want = calc_price(usage, "deepseek-chat", genai_request_timestamp=at).total_price
        assert pricing.cost_nano("deepseek-chat", 1000, 1000, at) == pricing.to_nano(want)
    assert pricing.cost_nano("no-such-model-anywhere", 10, 10, now) is None
    assert pricing.cost_nano("gpt-4o", None, None, now) is None


def test_windows_align_to_their_bucket_and_refuse_nonsense() -> None:
    """since is floored, until ceiled; empty, too long or too fine windows are Invalid."""
    window = align(BASE + timedelta(minutes=7), BASE + timedelta(hours=2, minutes=1), 3600)
    assert (window.since, window.until, window.points) == (BASE, BASE + timedelta(hours=3), 3)
    assert window.previous.until == window.since
    for since, until, bucket in [
        (BASE, BASE, 60),
        (BASE + timedelta(hours=1), BASE, 60),
        (BASE, BASE + timedelta(days=30), 60),
        (BASE, BASE + timedelta(days=900), 86400),
        (BASE, BASE + timedelta(days=1), 61),
    ]:
        with pytest.raises(Invalid):
            align(since, until, bucket)
    with pytest.raises(Invalid):
        metrics_service.window_for_range("2w")
    now = BASE + timedelta(minutes=30, seconds=5)
    day = metrics_service.window_for_range("24h", now)
    assert (day.until, day.length, day.bucket) == (
        BASE + timedelta(hours=1),
        timedelta(days=1),
        3600,
    )


def test_packed_histograms_add_deltas_exactly() -> None:
    """SQLite's packed form: deltas on either side of the stored range, negative bins (below
    1 ms) and counts past 32 bits all survive a round trip."""
    rng = random.Random(3)
    want: dict[int, int] = {}
    stored: bytes | None = None
    for _ in range(50):
        delta = {rng.randint(-300, 400): rng.randint(1, 5) for _ in range(rng.randint(1, 8))}
        for index, count in delta.items():
            want[index] = want.get(index, 0) + count
        stored = rollups.add_packed(stored, delta)
    stored = rollups.add_packed(stored, {7: 2**32 + 5})
    want[7] = want.get(7, 0) + 2**32 + 5
    got: dict[int, int] = {}
    assert stored is not None
    rollups.merge_into(got, stored)
    assert got == want


async def test_a_failed_commit_never_leaks_into_the_histograms(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group commit that fails after its rollups were planned is rolled back, and the
    histograms the SQLite writer keeps in memory forget it: the jobs, committed again in
    halves (the writer isolates a failing job by bisection), and later commits leave every
    level's histogram equal to the events' own."""
    who = await new_principal(f"metrics-rollback-{world.backend}")
    latencies: list[float] = []

    async def log(values: list[float]) -> None:
        events = [{"input": "x", "output": "y", "metadata": {"model": "m", "latency_ms": v}}
                  for v in values]  # fmt: skip
        await world.ingestor.log_events(who, {"events": events})
        latencies.extend(values)

    await log([10.0, 20.0, 30.0, 90.0])  # the failing delta fits: added in place, then dropped
    failures = []
    original = world.ingestor._touch_keys

    def fail_once(d: Any, key_ids: list[int], now: datetime) -> Any:
        if not failures:
            failures.append(now)
            raise RuntimeError("disk on fire")  # after the rollups' statements ran
        return original(d, key_ids, now)

    monkeypatch.setattr(world.ingestor, "_touch_keys", fail_once)
    # Two jobs queued together: the group fails once, then each half commits.
    await asyncio.gather(log([40.0, 50.0]), log([60.0, 70.0]))
    monkeypatch.setattr(world.ingestor, "_touch_keys", original)
    await log([80.0, 10.0])
    assert failures
    rows = await reader().execute_query_dict(
        _sql(world, "SELECT level, events, latency_hist FROM metric_rollups WHERE project_id = ?"),
        [who.project_id],
    )
    assert_every_level_counts(rows, latencies)


def test_kept_histograms_follow_only_committed_transactions() -> None:
    """What a transaction staged becomes current when the writer reports it committed;
    otherwise it is dropped, and so is anything known about those cells."""
    kept = rollups.Histograms()
    key, other = (1, 60, 0, "m"), (1, 60, 60, "m")
    kept.begin()
    kept.staged[key] = rollups.add_counts(None, {5: 1})
    kept.committed()  # the writer committed it
    assert kept.known(key) == (5, rollups.array("I", [1]))
    kept.staged[key] = rollups.add_counts(kept.known(key), {5: 1})
    kept.staged[other] = rollups.add_counts(None, {6: 1})
    assert kept.known(key) == (5, rollups.array("I", [2]))
    kept.rolled_back()  # that one failed: nothing about its cells is trusted any more
    assert kept.known(key) is None and kept.known(other) is None


async def test_rollup_reads_are_index_ranges(world: World) -> None:
    """SQLite: the rows of a level and the fine rows not folded yet are each read as an index
    range (with an OR of the two, SQLite scanned every row of the project); the end users by
    last_seen, not every end user of the project, each user's rows as one range of the
    covering index, with no sort (a GROUP BY sorted every user row of the window)."""
    if world.backend != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    now = BASE + timedelta(days=10)
    since = now - timedelta(days=30)
    source, params = rollups.metric_source(SQLITE, rollups.DAY, world.a.project_id, since, now)

    async def plan(sql: str, params: list[Any]) -> list[str]:
        rows = await reader().execute_query_dict(f"EXPLAIN QUERY PLAN {sql}", params)
        details = [str(row["detail"]) for row in rows]
        # "SCAN u": the list of end users (`reads._LISTED`), a co-routine of two index ranges.
        scans = [text for text in details if text.startswith("SCAN") and text != "SCAN u"]
        assert not scans and not any("TEMP B-TREE" in text for text in details), details
        return details

    details = await plan(f"SELECT * FROM {source} WHERE TRUE", params)  # noqa: S608
    assert sum("SEARCH metric_rollups USING INDEX" in text for text in details) == 2, details
    details = await plan(rollups.reads.END_USERS, [0] * 6 + rollups.reads.listed(0, ""))
    assert any("SEARCH end_users USING INDEX" in text and "last_seen>?" in text
               for text in details), details  # fmt: skip
    assert any("SEARCH d USING INDEX idx_departed_users_seen" in text and "last_seen>?" in text
               for text in details), details  # fmt: skip
    ranges = [text for text in details if "SEARCH r USING COVERING INDEX" in text]
    assert len(ranges) == 2, details
    assert all("user_id=? AND bucket>? AND bucket<?" in text for text in ranges), details


async def test_error_counts_equal_a_query_of_the_events(world: World) -> None:
    """Errors per model over a window, from the rollups, equal a count of the stored events
    whose status is "error" (not only what the test sent)."""
    window = align(BASE, BASE + timedelta(days=3), metrics_service.BUCKETS["1d"])
    got = await metrics_service.metrics(world.a.project_id, window, GroupBy.MODEL)
    d = POSTGRES if world.backend == "postgres" else SQLITE
    rows = await reader().execute_query_dict(
        d.sql("SELECT model, COUNT(*) AS n FROM events WHERE project_id = ? AND status = 'error' "
              "AND created_at >= ? AND created_at < ? GROUP BY model"),
        [world.a.project_id, d.time(window.since), d.time(window.until)],
    )  # fmt: skip
    stored = {row["model"]: int(row["n"]) for row in rows}
    assert sum(stored.values()) > 0
    assert {row.model: row.figures.errors for row in got.models if row.figures.errors} == stored
    assert got.summary.figures.errors == sum(stored.values())
    by_series = {s.model: sum(p.figures.errors for p in s.points) for s in got.series}
    assert {model: n for model, n in by_series.items() if n} == stored
