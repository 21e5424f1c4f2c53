"""No accepted input can make a later write fail: every stored sum saturates at its cap.

Before saturation, one API key could stop every project's ingestion: `tokens_in = 2^63 - 1`
then `1` in one minute (or ~9,300 events at the documented maximum cost) overflowed a rollup
sum, and from then on every write answered 503 and `phospho rollups rebuild` crashed (issue
17). Here, on SQLite and PostgreSQL, through the real Ingestor (its clock injected):

- maximal values across a minute, an hour and a day boundary: every write succeeds, another
  project still writes, the metrics read back (saturated where the true sum passes the cap,
  exact elsewhere), and a rebuild agrees;
- a Hypothesis property: for any sequence of accepted events and feedback, starting from
  stored sums anywhere up to the cap (and, on SQLite, the REAL values an overflowing upsert of
  an earlier release left), planning and folding never raise and every stored figure equals
  min(true sum, cap);
- a database written by a release without saturation (overflowed REAL rows, events with
  2^63 - 1 tokens): the server keeps writing, and `phospho rollups rebuild` repairs it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db import reader
from app.services import metrics as metrics_service
from app.services import pricing, rollups
from app.services.ingest import FoldJob, Ingestor
from app.services.metrics import align
from app.services.sql import POSTGRES, SQLITE, Dialect
from app.services.store import MAX_COUNT, MAX_SUM
from app.services.validation import MAX_COST_USD, MAX_LATENCY_MS, MAX_TOKENS
from app.services.write_backends import write_backend_for
from tests.factories import fresh_database, new_principal
from tests.harness import BACKENDS, REPO

LEGACY = 9.2233720368547758e18  # what SQLite stored after an overflowing integer `+`


class Clock:
    """The Ingestor's clock, set by the test before each commit."""

    def __init__(self) -> None:
        self.now = datetime(2027, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Db:
    """A throwaway database with a running Ingestor whose clock the test sets."""

    backend: str
    url: str
    tmp: Path
    clock: Clock = field(default_factory=Clock)
    ingestor: Ingestor | None = None

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect of the database."""
        return POSTGRES if self.backend == "postgres" else SQLITE

    @property
    def writer(self) -> Ingestor:
        """The running Ingestor."""
        assert self.ingestor is not None
        return self.ingestor

    async def start(self) -> None:
        """Start (or restart) the Ingestor."""
        self.ingestor = Ingestor(clock=self.clock)
        await self.ingestor.start(write_backend_for(self.url))

    async def stop(self) -> None:
        """Stop the Ingestor: on SQLite every rollup row is folded first."""
        if self.ingestor is not None:
            await self.ingestor.stop()
            self.ingestor = None

    async def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Run SQL (`?` placeholders) on the read connection."""
        got: list[dict[str, Any]] = await reader().execute_query_dict(
            self.dialect.sql(sql), list(params)
        )
        return got

    async def fold(self) -> None:
        """SQLite: fold every fine rollup row now (PostgreSQL writes every level anyway)."""
        await self.writer.writer.submit(FoldJob())

    async def rebuild(self, projects: list[int]) -> rollups.RebuildReport:
        """`phospho rollups rebuild`'s transaction, on the Ingestor's own write backend."""
        backend = self.writer.writer._backend
        assert backend is not None
        return await backend.run(lambda: rollups.rebuild(backend.dialect, projects))


@pytest.fixture(params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Db]:
    """A fresh database per test, migrated, with the ORM open and an Ingestor running."""
    backend = str(request.param)
    tmp = tmp_path_factory.mktemp(f"bounds-{backend}")
    async with fresh_database(backend, tmp) as url:
        db = Db(backend, url, tmp)
        try:
            await db.start()
            yield db
        finally:
            await db.stop()


SUMMED = "events, tokens_in, tokens_out, cost_nano, unpriced, feedback_positive, " + (
    "feedback_negative, sessions"
)


async def rollup_rows(db: Db, project_id: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Every metric and user rollup row of a project: key -> (figures…, histogram)."""
    got: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    sql = f"SELECT level, bucket, model, {SUMMED}, latency_hist FROM metric_rollups "  # noqa: S608
    for row in await db.rows(sql + "WHERE project_id = ?", project_id):
        histogram: dict[int, int] = {}
        rollups.merge_into(histogram, row["latency_hist"])
        figures = tuple(row[col] for col in SUMMED.split(", "))
        got[("metric", row["level"], row["bucket"], row["model"])] = (*figures, histogram)
    sql = "SELECT level, bucket, user_id, events, cost_nano, unpriced FROM user_rollups "
    for row in await db.rows(sql + "WHERE project_id = ?", project_id):
        key = ("user", row["level"], row["bucket"], row["user_id"])
        got[key] = (row["events"], row["cost_nano"], row["unpriced"])
    return got


# --- Maximal values across a minute, an hour and a day boundary -----------------------------

T0 = datetime(2027, 3, 1, 23, 59, 40, tzinfo=UTC)  # 20 s before a minute, an hour, a day end
BIGGEST = {"model": "o1-pro", "tokens_in": MAX_TOKENS, "tokens_out": MAX_TOKENS,
           "latency_ms": MAX_LATENCY_MS, "cost_usd": MAX_COST_USD}  # fmt: skip
# The priced model's estimate of the maximal tokens (7.5 x 10^14 nano-dollars), below the cap.
PRICED = {"model": "o1-pro", "tokens_in": MAX_TOKENS, "tokensOut": MAX_TOKENS}


def _batch(metadata: dict[str, Any]) -> dict[str, Any]:
    event = {"input": "x", "output": "y", "session_id": "s", "user_id": "u", "metadata": metadata}
    return {"events": [event] * 1000}


async def test_maximal_values_across_a_minute_and_an_hour_never_stop_writes(db: Db) -> None:
    """10,000 events at the maximum cost in the minute before midnight (10^19 nano-dollars:
    past 2^63 - 1 in that minute, hour, day and end user), then 10,000 more after it, with the
    sessions' and end users' 32-bit counts pushed past their cap: every write succeeds,
    another project still writes, the metrics read back, and a rebuild agrees."""
    loud, quiet = await new_principal("loud"), await new_principal("quiet")
    for second in range(10):
        db.clock.now = T0 + timedelta(seconds=second)
        await db.writer.log_events(loud, _batch(BIGGEST))
    first = await db.rows("SELECT id FROM events WHERE project_id = ? LIMIT 1", loud.project_id)
    await db.writer.add_feedback(loud, str(first[0]["id"]), {"score": 1.0})
    for table in ("sessions", "end_users"):
        await db.rows(f"UPDATE {table} SET event_count = ? WHERE project_id = ?",  # noqa: S608
                      MAX_COUNT - 10, loud.project_id)  # fmt: skip
    for second in range(10):  # the next minute, hour and day: the first commit folds the last
        db.clock.now = T0 + timedelta(seconds=30 + second)
        await db.writer.log_events(loud, _batch(PRICED if second % 2 else BIGGEST))
    quiet_event = {"input": "q", "output": "a", "user_id": "v",
                   "metadata": {"model": "gpt-4o", "tokens_in": 10, "latency_ms": 5}}  # fmt: skip
    stored = await db.writer.log_events(quiet, {"events": [quiet_event] * 3})
    await db.writer.add_feedback(quiet, str(stored[0].event_id), {"score": 0})

    after = 5 * 10**18 + 5 * 1000 * pricing.cost_nano("o1-pro", MAX_TOKENS, MAX_TOKENS, T0)  # type: ignore[operator]
    await _check_loud_metrics(loud.project_id, after)
    await _check_counts(db, loud.project_id)
    quiet_day = align(T0 - timedelta(days=1), T0 + timedelta(days=1), 86400)
    figures = (await metrics_service.metrics(quiet.project_id, quiet_day)).summary.figures
    assert (figures.events, figures.tokens_in, figures.feedback_negative) == (3, 30, 1)
    assert figures.cost_usd == 3 * pricing.cost_nano("gpt-4o", 10, None, T0) / pricing.NANO  # type: ignore[operator]

    await db.fold()
    before = {p: await rollup_rows(db, p) for p in (loud.project_id, quiet.project_id)}
    minute, hour = int(T0.timestamp()) // 60 * 60, int(T0.timestamp()) // 3600 * 3600
    assert before[loud.project_id][("metric", 60, minute, "o1-pro")][3] == MAX_SUM
    assert before[loud.project_id][("metric", 3600, hour, "o1-pro")][3] == MAX_SUM
    assert before[loud.project_id][("metric", 3600, hour + 3600, "o1-pro")][3] == after
    assert before[loud.project_id][("user", 3600, hour, "u")][1] == MAX_SUM
    report = await db.rebuild([loud.project_id, quiet.project_id])
    assert report.events == 20_003
    assert {p: await rollup_rows(db, p) for p in before} == before


async def _check_loud_metrics(project_id: int, after: int) -> None:
    """The saturated project's metrics read back at every bucket size: saturated sums where
    the true sum passed 2^63 - 1, exact ones elsewhere."""
    cap_usd = MAX_SUM / pricing.NANO
    for since, until, bucket in [
        (T0 - timedelta(minutes=1), T0 + timedelta(minutes=2), 60),  # from minute rows, events
        (T0 - timedelta(hours=2), T0 + timedelta(hours=2), 3600),  # hour rows, user rollups
        (T0 - timedelta(days=2), T0 + timedelta(days=2), 86400),
    ]:
        got = await metrics_service.metrics(project_id, align(since, until, bucket))
        figures = got.summary.figures
        assert figures.events == 20_000
        assert (figures.tokens_in, figures.tokens_out) == (2 * 10**13, 2 * 10**13)
        assert figures.cost_usd == cap_usd  # 1.875 x 10^19 in truth
        assert figures.feedback_positive == 1
        assert figures.latency_p50 is not None
        assert abs(figures.latency_p50 - MAX_LATENCY_MS) <= MAX_LATENCY_MS * rollups.ALPHA
        costs = [p.figures.cost_usd for p in got.series[0].points if p.figures.events]
        assert costs == [cap_usd, after / pricing.NANO]  # before and after midnight
        [user] = got.top_users_by_cost
        assert (user.user_id, user.events, user.cost_usd) == ("u", 20_000, cap_usd)


async def _check_counts(db: Db, project_id: int) -> None:
    """The 32-bit event counts of sessions and end users stopped at their cap."""
    for table in ("sessions", "end_users"):
        sql = f"SELECT event_count FROM {table} WHERE project_id = ?"  # noqa: S608
        rows = await db.rows(sql, project_id)
        assert [int(row["event_count"]) for row in rows] == [MAX_COUNT]


# --- The property -------------------------------------------------------------------------

MODELS = ["m-unpriced", "gpt-4o", None]
USERS = [None, "u0", "u1"]
INITIAL_MODEL = "m-unpriced"
near_cap = st.one_of(st.integers(MAX_SUM - 10**17, MAX_SUM), st.integers(0, 10**6), st.just(LEGACY))
MetricKey = tuple[int, int, str]  # (level, bucket, model)
UserKey = tuple[int, int, str]  # (level, bucket, user)


@dataclass(frozen=True)
class Spec:
    """`copies` identical events in one batch."""

    metadata: dict[str, Any]
    user: str | None
    shared_session: bool  # session "s0" (stored before, near its cap), else a new session each
    copies: int


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    """Events within every accepted bound, the bounds themselves often."""
    metadata: dict[str, Any] = {}
    model = draw(st.sampled_from(MODELS))
    if model is not None:
        metadata["model"] = model
    values = {
        "tokens_in": st.none() | st.just(MAX_TOKENS) | st.integers(0, MAX_TOKENS),
        "tokens_out": st.none() | st.just(MAX_TOKENS) | st.integers(0, MAX_TOKENS),
        "latency_ms": st.none() | st.just(MAX_LATENCY_MS) | st.floats(0, MAX_LATENCY_MS),
        "cost_usd": st.none() | st.just(MAX_COST_USD) | st.floats(0, MAX_COST_USD),
    }
    for key, strategy in values.items():
        value = draw(strategy)
        if value is not None:
            metadata[key] = value
    return Spec(metadata, draw(st.sampled_from(USERS)), draw(st.booleans()),
                draw(st.integers(1, 40)))  # fmt: skip


@dataclass(frozen=True)
class History:
    """Stored sums to start from, then commits (at increasing offsets, seconds) and feedback
    (after commit `i`: (i, which event, score))."""

    initial: dict[tuple[int, int], tuple[Any, Any, Any]]  # (level, bucket index) -> sums
    initial_counts: tuple[int, int]  # event counts of end user u0 and session s0
    offsets: list[int]
    commits: list[list[Spec]]
    feedback: list[tuple[int, int, int]]


@st.composite
def histories(draw: st.DrawFn) -> History:
    """Anything a client may send, over two hours that cross a minute, hour and day."""
    offsets = sorted(draw(st.lists(st.integers(0, 7200), min_size=1, max_size=5)))
    cells = [(3600, 0), (3600, 1), (3600, 2), (86400, 0), (86400, 1)]
    initial = {
        cell: (draw(near_cap), draw(near_cap), draw(near_cap))
        for cell in draw(st.lists(st.sampled_from(cells), unique=True))
    }
    count = st.integers(MAX_COUNT - 100, MAX_COUNT) | st.integers(1, 100)
    feedback = st.tuples(st.integers(0, len(offsets) - 1), st.integers(0, 10**6),
                         st.integers(0, 1))  # fmt: skip
    return History(
        initial, (draw(count), draw(count)), offsets,
        [draw(st.lists(specs(), min_size=1, max_size=4)) for _ in offsets],
        draw(st.lists(feedback, max_size=5)),
    )  # fmt: skip


@dataclass
class Oracle:
    """The true sums of what a history stored, and which rows its writes reached."""

    # metric: [events, tokens in, tokens out, cost, unpriced, feedback +, feedback -, sessions]
    metric: dict[MetricKey, list[Any]] = field(default_factory=dict)
    histograms: dict[MetricKey, dict[int, int]] = field(default_factory=dict)
    user: dict[UserKey, list[Any]] = field(default_factory=dict)  # [events, cost, unpriced]
    counts: dict[str, int] = field(default_factory=dict)  # end users' and s0's event counts
    touched: set[tuple[str, MetricKey]] = field(default_factory=set)

    def add_metric(self, key: MetricKey, figures: list[Any], *, touch: bool = True) -> None:
        """Add a metric cell's figures."""
        found = self.metric.setdefault(key, [0] * 8)
        self.metric[key] = [a + b for a, b in zip(found, figures, strict=True)]
        if touch:
            self.touched.add(("metric", key))

    def add_user(self, key: UserKey, figures: list[Any], *, touch: bool = True) -> None:
        """Add an end user cell's figures."""
        found = self.user.setdefault(key, [0] * 3)
        self.user[key] = [a + b for a, b in zip(found, figures, strict=True)]
        if touch:
            self.touched.add(("user", key))


EXAMPLES = itertools.count()


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())  # fmt: skip
async def test_every_stored_figure_is_the_true_sum_or_the_cap(db: Db, history: History) -> None:
    """For any accepted events and feedback, from stored sums anywhere up to the cap (on
    SQLite also an earlier release's REAL overflow): writes never fail and every stored figure
    is min(true sum, cap)."""
    who = await new_principal(f"property-{next(EXAMPLES)}")
    day = datetime(2028, 1, 1, tzinfo=UTC) + timedelta(days=2 * next(EXAMPLES))
    start = day + timedelta(hours=22, minutes=59)
    oracle = Oracle()
    await _store_initial(db, who.project_id, history, day, oracle)
    events: list[tuple[str, str]] = []  # (id, model)
    latest: dict[str, tuple[datetime, int, str]] = {}  # event id -> (feedback at, score, model)
    for index, (offset, batch) in enumerate(zip(history.offsets, history.commits, strict=True)):
        db.clock.now = start + timedelta(seconds=offset)
        bodies = [_body(spec) for spec in batch for _ in range(spec.copies)]
        results = await db.writer.log_events(who, {"events": bodies})
        for spec in batch:
            _count(oracle, spec, db.clock.now)
        models = [spec.metadata.get("model") or "" for spec in batch for _ in range(spec.copies)]
        events += [(str(r.event_id), m) for r, m in zip(results, models, strict=True)]
        for after, pick, score in history.feedback:
            if after == index:
                target, model = events[pick % len(events)]
                await db.writer.add_feedback(who, target, {"score": score})
                latest[target] = (db.clock.now, score, model)
    for at, score, model in latest.values():  # each event's current feedback, where given
        for level in rollups.LEVELS:
            key = (level, int(at.timestamp()) // level * level, model)
            oracle.add_metric(key, [0] * 5 + [score, 1 - score, 0])
    await db.fold()
    await _check_against(db, who.project_id, oracle)


def _body(spec: Spec) -> dict[str, Any]:
    body: dict[str, Any] = {"input": "x", "output": "y", "metadata": spec.metadata}
    if spec.user is not None:
        body["user_id"] = spec.user
    if spec.shared_session:
        body["session_id"] = "s0"
    return body


def _count(oracle: Oracle, spec: Spec, at: datetime) -> None:
    """What `copies` events of a spec add to the true sums."""
    meta, n = spec.metadata, spec.copies
    tokens_in, tokens_out = meta.get("tokens_in"), meta.get("tokens_out")
    cost: int | None
    if "cost_usd" in meta:
        cost = pricing.to_nano(float(meta["cost_usd"]))
    else:
        cost = pricing.cost_nano(meta.get("model"), tokens_in, tokens_out, datetime.now(UTC))
    unpriced = int(rollups.is_unpriced(cost, tokens_in, tokens_out))
    sessions = 0 if spec.shared_session else n  # each new session starts in its only event
    model, stamp = meta.get("model") or "", int(at.timestamp())
    figures = [n, n * (tokens_in or 0), n * (tokens_out or 0), n * (cost or 0), n * unpriced,
               0, 0, sessions]  # fmt: skip
    for level in rollups.LEVELS:
        key = (level, stamp // level * level, model)
        oracle.add_metric(key, figures)
        if meta.get("latency_ms") is not None:
            histogram = oracle.histograms.setdefault(key, {})
            index = rollups.bin_of(float(meta["latency_ms"]))
            histogram[index] = histogram.get(index, 0) + n
    if spec.user is not None:
        for level in rollups.USER_LEVELS:
            oracle.add_user(
                (level, stamp // level * level, spec.user), [n, n * (cost or 0), n * unpriced]
            )
        oracle.counts[spec.user] = oracle.counts.get(spec.user, 0) + n
    if spec.shared_session:
        oracle.counts["s0"] += n


async def _store_initial(
    db: Db, project_id: int, history: History, day: datetime, oracle: Oracle
) -> None:
    """Rows as earlier writes left them: rollup sums near the cap (or, on SQLite, the REAL an
    overflow left) at hour and day level; the end user u0 and the session s0 near their
    32-bit cap."""
    for (level, index), sums in history.initial.items():
        at = day + (timedelta(hours=22 + index) if level == 3600 else timedelta(days=index))
        bucket = int(at.timestamp())
        tokens_in, tokens_out, cost = (
            MAX_SUM if value == LEGACY and db.backend == "postgres" else value for value in sums
        )
        await db.rows(
            "INSERT INTO metric_rollups (project_id, level, bucket, model, events, tokens_in, "
            "tokens_out, cost_nano, unpriced, latency_hist, feedback_positive, "
            "feedback_negative, sessions) VALUES (?, ?, ?, ?, 1, ?, ?, ?, 0, '{}', 0, 0, 0)",
            project_id, level, bucket, INITIAL_MODEL, tokens_in, tokens_out, cost,
        )  # fmt: skip
        figures = [1, tokens_in, tokens_out, cost, 0, 0, 0, 0]
        oracle.add_metric((level, bucket, INITIAL_MODEL), figures, touch=False)
        await db.rows(
            "INSERT INTO user_rollups (project_id, level, bucket, user_id, events, cost_nano, "
            "unpriced) VALUES (?, ?, ?, 'u0', 1, ?, 0)", project_id, level, bucket, cost,
        )  # fmt: skip
        oracle.add_user((level, bucket, "u0"), [1, cost, 0], touch=False)
    users, sessions = history.initial_counts
    at = db.dialect.time(day)
    await db.rows(
        "INSERT INTO end_users (project_id, user_id, first_seen, last_seen, event_count, "
        "hour_bucket, hour_events, hour_cost_nano, hour_unpriced) "
        "VALUES (?, 'u0', ?, ?, ?, 0, 0, 0, 0)", project_id, at, at, users,
    )  # fmt: skip
    await db.rows(
        "INSERT INTO sessions (project_id, session_key, user_id, first_event_at, "
        "last_event_at, event_count) VALUES (?, 's0', NULL, ?, ?, ?)",
        project_id, at, at, sessions,
    )  # fmt: skip
    oracle.counts["u0"], oracle.counts["s0"] = users, sessions


def _saturated(value: Any) -> int:
    """min(true sum, cap); a REAL left by an overflow is past the cap already."""
    return MAX_SUM if value >= MAX_SUM else int(value)


async def _check_against(db: Db, project_id: int, oracle: Oracle) -> None:
    """Every row the history's writes reached holds min(true sum, cap); the rows they did not
    reach hold what was stored; no other row has anything in it; the 32-bit counts stop at
    their cap."""
    stored = await rollup_rows(db, project_id)
    want: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for key, figures in oracle.metric.items():
        kept = ("metric", key) not in oracle.touched
        sums = tuple(figures) if kept else tuple(map(_saturated, figures))
        want[("metric", *key)] = (*sums, oracle.histograms.get(key, {}))
    for key, figures in oracle.user.items():
        kept = ("user", key) not in oracle.touched
        want[("user", *key)] = tuple(figures) if kept else tuple(map(_saturated, figures))
    for row, got in stored.items():
        if row not in want:  # a cell whose feedback moved on: nothing left in it
            assert not any(got[:-1]) and not got[-1] if row[0] == "metric" else not any(got)
    assert {row: stored.get(row) for row in want} == want
    counts = await db.rows(
        "SELECT user_id, event_count FROM end_users WHERE project_id = ?", project_id
    )
    assert {row["user_id"]: row["event_count"] for row in counts} == {
        user: min(n, MAX_COUNT) for user, n in oracle.counts.items() if user != "s0"
    }
    session = await db.rows(
        "SELECT event_count FROM sessions WHERE project_id = ? AND session_key = 's0'",
        project_id,
    )
    assert session[0]["event_count"] == min(oracle.counts["s0"], MAX_COUNT)


# --- A database written by a release without saturation -----------------------------------

LEGACY_AT = datetime(2026, 6, 1, 10, 5, tzinfo=UTC)


async def _store_legacy(db: Db, project_id: int) -> None:
    """What the release before saturation could leave: events with 2^63 - 1 tokens (then
    accepted) and a cost near 2^63; rollup rows whose sums overflowed (SQLite stored REAL
    9.2233720368547758e18; PostgreSQL refused past 2^63 - 1); 32-bit counts past their cap
    (SQLite only: PostgreSQL's integer columns refused them)."""
    sqlite = db.backend == "sqlite"
    over = LEGACY if sqlite else MAX_SUM
    at = db.dialect.time(LEGACY_AT)
    events = [(2**63 - 1, 2**63 - 1, None)] * 3 + [(None, None, 2**63 - 10)]
    for tokens_in, tokens_out, cost in events:
        await db.rows(
            "INSERT INTO events (id, project_id, session_key, user_id, input, output, model, "
            "tokens_in, tokens_out, latency_ms, cost_nano, created_at) "
            "VALUES (?, ?, 'ls', 'lu', 'x', 'y', 'gpt-4o', ?, ?, 1e300, ?, ?)",
            db.dialect.uuid(uuid.uuid4()), project_id, tokens_in, tokens_out, cost, at,
        )  # fmt: skip
    stamp = int(LEGACY_AT.timestamp())
    for level in rollups.LEVELS:
        await db.rows(
            "INSERT INTO metric_rollups (project_id, level, bucket, model, events, tokens_in, "
            "tokens_out, cost_nano, unpriced, latency_hist, feedback_positive, "
            "feedback_negative, sessions) VALUES (?, ?, ?, 'gpt-4o', 4, ?, ?, ?, 3, '{}', 0, 0, 1)",
            project_id, level, stamp // level * level, over, over, over,
        )  # fmt: skip
    for level in rollups.USER_LEVELS:
        await db.rows(
            "INSERT INTO user_rollups (project_id, level, bucket, user_id, events, cost_nano, "
            "unpriced) VALUES (?, ?, ?, 'lu', 4, ?, 3)", project_id, level,
            stamp // level * level, over,
        )  # fmt: skip
    count = 2**40 if sqlite else MAX_COUNT
    for name in ("l", "idle"):  # the idle end user and session are written to no more
        await db.rows(
            "INSERT INTO end_users (project_id, user_id, first_seen, last_seen, event_count, "
            "hour_bucket, hour_events, hour_cost_nano, hour_unpriced) "
            "VALUES (?, ?, ?, ?, ?, ?, 4, ?, 3)", project_id, f"{name}u", at, at, count,
            stamp // 3600 * 3600, over,
        )  # fmt: skip
        await db.rows(
            "INSERT INTO sessions (project_id, session_key, user_id, first_event_at, "
            "last_event_at, event_count) VALUES (?, ?, 'lu', ?, ?, ?)", project_id, f"{name}s",
            at, at, count,
        )  # fmt: skip


async def test_a_database_with_overflowed_rows_keeps_working_and_rebuilds(db: Db) -> None:
    """On a database an earlier release overflowed: writes to that project (in the
    overflowed minute too) and to others succeed, its metrics read back saturated, and
    `phospho rollups rebuild` succeeds, repairs every counter and prices the legacy tokens at
    no more than the maximum cost."""
    legacy, other = await new_principal("legacy"), await new_principal("other")
    await _store_legacy(db, legacy.project_id)
    event = {"input": "q", "output": "a", "user_id": "lu", "session_id": "ls",
             "metadata": {"model": "gpt-4o", "tokens_in": 5, "cost_usd": 1}}  # fmt: skip
    for at in (LEGACY_AT + timedelta(seconds=30), LEGACY_AT + timedelta(days=1)):
        db.clock.now = at  # the overflowed minute itself (the clock set back), then a day later
        await db.writer.log_events(legacy, {"events": [event] * 2})
        await db.writer.log_events(other, {"events": [event]})
    day = align(LEGACY_AT - timedelta(days=1), LEGACY_AT + timedelta(days=2), 86400)
    for window in (day, align(LEGACY_AT, LEGACY_AT + timedelta(hours=1), 60)):
        figures = (await metrics_service.metrics(legacy.project_id, window)).summary.figures
        assert (figures.tokens_in, figures.cost_usd) == (MAX_SUM, MAX_SUM / pricing.NANO)
        got = await metrics_service.metrics(legacy.project_id, window)
        assert got.top_users_by_cost[0].cost_usd == MAX_SUM / pricing.NANO

    await db.stop()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOSPHO_")}
    env.update(PHOSPHO_DATABASE_URL=db.url, PHOSPHO_DATA_DIR=str(db.tmp), PYTHONPATH=str(REPO))
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "app.cli", "rollups", "rebuild"], env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    repaired = 2 if db.backend == "sqlite" else 0  # the idle end user's and session's rows
    assert f"{repaired} overflowed counters repaired" in done.stderr
    assert "3 events newly priced" in done.stderr
    await _check_repaired(db, legacy.project_id)
    await db.start()
    db.clock.now = LEGACY_AT + timedelta(days=2)
    await db.writer.log_events(legacy, {"events": [event]})
    await db.writer.log_events(other, {"events": [event]})


async def _check_repaired(db: Db, project_id: int) -> None:
    """No value past its cap is left in the project's rows; sums are min(true sum, cap)."""
    rows = await rollup_rows(db, project_id)
    stamp = int(LEGACY_AT.timestamp())
    for level in rollups.LEVELS:
        figures = rows[("metric", level, stamp // level * level, "gpt-4o")]
        assert figures[:4] == (6, MAX_SUM, MAX_SUM, MAX_SUM)  # 3 x (2^63 - 1) tokens, and 10
        assert all(type(value) is int for value in figures[:-1])
    for level in rollups.USER_LEVELS:
        assert rows[("user", level, stamp // level * level, "lu")] == (6, MAX_SUM, 0)
    costs = await db.rows(
        "SELECT cost_nano FROM events WHERE project_id = ? AND tokens_in > ?", project_id,
        MAX_TOKENS,
    )  # fmt: skip
    assert [row["cost_nano"] for row in costs] == [pricing.MAX_COST_NANO] * 3
    for table in ("end_users", "sessions"):
        sql = f"SELECT event_count FROM {table} WHERE project_id = ?"  # noqa: S608
        counts = [row["event_count"] for row in await db.rows(sql, project_id)]
        assert counts == [MAX_COUNT, MAX_COUNT]
    if db.backend == "sqlite":
        hours = await db.rows(
            "SELECT typeof(hour_cost_nano) AS kind FROM end_users WHERE project_id = ?",
            project_id,
        )
        assert hours == [{"kind": "integer"}] * 2
