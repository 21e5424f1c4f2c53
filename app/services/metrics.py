"""Metrics over time: what the overview page and `Query.metrics` read.

Everything here reads the rollup tables (`metric_rollups`, `user_rollups`, and on SQLite the
end users' hours not folded yet, in `end_users`; see `app/services/rollups.py`, which keeps
them in the ingest transaction), so the cost of a request grows with the number of buckets
and of end users, not of events. The exception is the count of sessions started: two counts
of an index range of `sessions` (~15 ms for 200,000 sessions). Windows are aligned to their
bucket: `since` is floored and `until` ceiled to a multiple of the bucket size (UTC), so every
figure is exact for the window it reports.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from app.errors import Invalid
from app.services import pricing, rollups
from app.services.rollups import Cell
from app.services.sql import POSTGRES, SQLITE, Dialect, db_time, dialect, fetch, select
from app.services.store import capped

# Bucket sizes a caller may ask for, in seconds, by name (`bucket=` in URLs).
BUCKETS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400}
# The overview's ranges and the bucket each one uses.
RANGES: dict[str, tuple[int, str]] = {
    "1h": (3600, "1m"),
    "24h": (86400, "1h"),
    "7d": (7 * 86400, "1h"),
    "30d": (30 * 86400, "1d"),
}
DEFAULT_RANGE = "24h"
MAX_POINTS = 1000  # buckets per series; a longer window needs a larger bucket
MAX_WINDOW = timedelta(days=400)
TOP_USERS = 10
# Models are whatever clients send: a project may log thousands. The busiest MAX_MODELS (by
# events) get their own series and breakdown row; one more sums the rest (`other_models`), so
# a response stays bounded (MAX_MODELS + 1 series of at most MAX_POINTS points).
MAX_MODELS = 20


class GroupBy(Enum):
    """How `series` is split."""

    NONE = "NONE"
    MODEL = "MODEL"


@dataclass(frozen=True, slots=True)
class Window:
    """A time window aligned to its bucket: [since, until), `bucket` seconds per point."""

    since: datetime
    until: datetime
    bucket: int

    @property
    def length(self) -> timedelta:
        """How long the window is."""
        return self.until - self.since

    @property
    def previous(self) -> Window:
        """The window of the same length just before this one."""
        return Window(self.since - self.length, self.since, self.bucket)

    @property
    def points(self) -> int:
        """Buckets in the window."""
        return int(self.length.total_seconds()) // self.bucket


@dataclass(frozen=True, slots=True)
class Figures:
    """Totals over a window (or one bucket). Costs are in US dollars; `unpriced_events` counts
    events with tokens whose model has no known price (their cost is not in `cost_usd`).
    Latency percentiles are in milliseconds, None when no event in the window had a latency."""

    events: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    unpriced_events: int
    feedback_positive: int
    feedback_negative: int
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None

    @property
    def feedback_count(self) -> int:
        """Feedback counted in the window (each event's current feedback)."""
        return self.feedback_positive + self.feedback_negative

    @property
    def positive_rate(self) -> float | None:
        """Share of positive feedback (0..1), None without feedback."""
        total = self.feedback_count
        return self.feedback_positive / total if total else None


@dataclass(frozen=True, slots=True)
class Summary:
    """The overview's figures for one window. `sessions` counts sessions started in the
    window; `end_users` counts distinct end users with at least one event in it."""

    figures: Figures
    sessions: int
    end_users: int


@dataclass(frozen=True, slots=True)
class Point:
    """One bucket of a series: it starts at `start` and lasts the window's bucket size."""

    start: datetime
    figures: Figures


@dataclass(frozen=True, slots=True)
class Series:
    """Points for every bucket of the window, empty buckets included (all zero).

    With `GroupBy.NONE` there is one series with `model` None (every event); with
    `GroupBy.MODEL` one per model, where `model` None holds events logged without a model,
    and past MAX_MODELS models a last one summing the others (`other_models` > 0, `model`
    None).
    """

    model: str | None
    points: tuple[Point, ...]
    other_models: int = 0  # > 0: the sum of this many models (the least busy ones)


@dataclass(frozen=True, slots=True)
class ModelRow:
    """The window's figures for one model (None: events without a model), or with
    `other_models` > 0 for the models past MAX_MODELS together (`model` None)."""

    model: str | None
    figures: Figures
    other_models: int = 0


@dataclass(frozen=True, slots=True)
class UserRow:
    """An end user's activity in the window."""

    user_id: str
    events: int
    cost_usd: float
    unpriced_events: int


@dataclass(frozen=True, slots=True)
class Metrics:
    """Everything the overview shows for a window."""

    window: Window
    summary: Summary
    previous: Summary  # the same figures for `window.previous`
    series: tuple[Series, ...]  # split as asked (GroupBy)
    series_by_model: tuple[Series, ...]  # always split by model (the overview needs both)
    models: tuple[ModelRow, ...]  # by events, descending
    top_users_by_events: tuple[UserRow, ...]
    top_users_by_cost: tuple[UserRow, ...]


def align(since: datetime, until: datetime, bucket: int) -> Window:
    """The aligned window covering [since, until); Invalid when it is empty, too long, or has
    more than MAX_POINTS buckets."""
    if bucket not in BUCKETS.values():
        raise Invalid(f"bucket must be one of {', '.join(BUCKETS)}")
    start = _floor(_utc(since), bucket)
    end = _ceil(_utc(until), bucket)
    if end <= start:
        raise Invalid("until must be after since")
    if end - start > MAX_WINDOW:
        raise Invalid(f"a window may span at most {MAX_WINDOW.days} days")
    window = Window(start, end, bucket)
    if window.points > MAX_POINTS:
        raise Invalid(f"too many buckets ({window.points}); choose a larger bucket")
    return window


def window_for_range(name: str, now: datetime | None = None) -> Window:
    """The window of a named overview range ("1h", "24h", "7d", "30d") ending now."""
    if name not in RANGES:
        raise Invalid(f"range must be one of {', '.join(RANGES)}")
    length, bucket_name = RANGES[name]
    bucket = BUCKETS[bucket_name]
    end = _ceil(_utc(now or datetime.now(UTC)), bucket)
    return Window(end - timedelta(seconds=length), end, bucket)


def default_bucket(since: datetime, until: datetime) -> int:
    """The bucket that fits a custom window: the smallest giving at most ~200 points."""
    seconds = max(1.0, (_utc(until) - _utc(since)).total_seconds())
    for size in BUCKETS.values():
        if seconds / size <= 200:
            return size
    return BUCKETS["1d"]


async def metrics(project_id: int, window: Window, group_by: GroupBy = GroupBy.NONE) -> Metrics:
    """The overview's figures, series, model breakdown and top users for `window`."""
    d = dialect()
    level = max(size for size in rollups.LEVELS if window.bucket % size == 0)
    previous = window.previous
    source, params = _metrics_with_unfolded(d, level, project_id, previous.since, window.until)
    rows = await fetch(d, select(_ROLLUP_COLUMNS, source, "TRUE"), params)
    start = _stamp(window.since)
    before = Cell()
    # Each (model, bucket index) is one row, or a few (a level's row and the minute rows not
    # folded into it yet): the first row's Cell is the cell. The sums are then built from
    # those cells, so each histogram is merged twice (into its model and its bucket).
    by_key: dict[tuple[str, int], Cell] = {}
    for row in rows:
        bucket, cell = int(row["bucket"]), Cell.from_row(row)
        if bucket < start:
            before.add(cell)
            continue
        key = (str(row["model"]), (bucket - start) // window.bucket)
        found = by_key.get(key)
        if found is None:
            by_key[key] = cell
        else:
            found.add(cell)
    by_model: dict[str, Cell] = {}
    for (model, _), cell in by_key.items():
        by_model.setdefault(model, Cell()).add(cell)
    ranked = sorted(by_model, key=lambda model: (-by_model[model].events, model))
    shown, rest = ranked[:MAX_MODELS], set(ranked[MAX_MODELS:])
    # By bucket index: every event, each shown model's cells, the rest summed.
    overall: dict[int, Cell] = {}
    of_model: dict[str, dict[int, Cell]] = {name: {} for name in shown}
    others: dict[int, Cell] = {}
    for (model, index), cell in by_key.items():
        overall.setdefault(index, Cell()).add(cell)
        if model in rest:
            others.setdefault(index, Cell()).add(cell)
        else:
            of_model[model][index] = cell
    current = Cell()
    for cell in by_model.values():
        current.add(cell)
    users, users_before = await _end_users(d, project_id, level, window)

    def series(model: str | None, at: dict[int, Cell], other_models: int = 0) -> Series:
        step = timedelta(seconds=window.bucket)
        return Series(
            model,
            tuple(
                Point(window.since + i * step, _figures(at.get(i, _EMPTY)))
                for i in range(window.points)
            ),
            other_models,
        )

    per_model = [series(_model(name), of_model[name]) for name in shown]
    model_rows = [ModelRow(_model(name), _figures(by_model[name])) for name in shown]
    if rest:
        per_model.append(series(None, others, len(rest)))
        rest_total = Cell()
        for name in rest:
            rest_total.add(by_model[name])
        model_rows.append(ModelRow(None, _figures(rest_total), len(rest)))
    return Metrics(
        window=window,
        summary=Summary(_figures(current), current.sessions, len(users)),
        previous=Summary(_figures(before), before.sessions, users_before),
        series=tuple(per_model) if group_by is GroupBy.MODEL else (series(None, overall),),
        series_by_model=tuple(per_model),
        models=tuple(model_rows),
        top_users_by_events=tuple(
            heapq.nsmallest(TOP_USERS, users, key=lambda u: (-u.events, -u.cost_usd, u.user_id))
        ),
        top_users_by_cost=tuple(
            heapq.nsmallest(
                TOP_USERS,
                [user for user in users if user.cost_usd > 0],
                key=lambda u: (-u.cost_usd, -u.events, u.user_id),
            )
        ),
    )


_ROLLUP_COLUMNS = (
    "bucket, model, events, tokens_in, tokens_out, cost_nano, unpriced, latency_hist, "
    "feedback_positive, feedback_negative, sessions"
)


def _figures(cell: Cell) -> Figures:
    """What a sum of rollup cells shows: dollars, and percentiles from the histogram."""
    p50, p95, p99 = rollups.percentiles(cell.histogram, (0.50, 0.95, 0.99))
    # Sums of cells saturate like the stored ones (store.MAX_SUM): "at least this much".
    return Figures(
        events=capped(cell.events),
        tokens_in=capped(cell.tokens_in),
        tokens_out=capped(cell.tokens_out),
        cost_usd=capped(cell.cost_nano) / pricing.NANO,
        unpriced_events=capped(cell.unpriced),
        feedback_positive=capped(cell.feedback_positive),
        feedback_negative=capped(cell.feedback_negative),
        latency_p50=p50,
        latency_p95=p95,
        latency_p99=p99,
    )


_EMPTY = Cell()


def _model(stored: str) -> str | None:
    return None if stored == rollups.NO_MODEL else stored


def _stored(model: str | None) -> str:
    return rollups.NO_MODEL if model is None else model


def _stamp(value: datetime) -> int:
    return int(value.timestamp())


def _metrics_with_unfolded(
    d: Dialect, level: int, project_id: int, since: datetime, until: datetime
) -> tuple[str, list[Any]]:
    """The metric rows of `level` in [since, until), plus on SQLite the minute rows not yet
    folded into the coarser levels (rollups.Folds): as a derived table, in one statement (one
    snapshot, nothing counted twice), each part an index range (an OR of the two scanned every
    row of the project)."""
    span = [_stamp(since), _stamp(until)]
    where = "project_id = ? AND level = ? AND bucket >= ? AND bucket < ?"
    rows = select("*", "metric_rollups", where)
    if level == rollups.MINUTE or d.postgres:  # PostgreSQL: every commit writes every level
        return f"({rows}) r", [project_id, level, *span]
    start = f"MAX(?, {rollups.FOLDED.format(rollups.MINUTE)})"
    unfolded = select(
        "*", "metric_rollups", f"project_id = ? AND level = 60 AND bucket >= {start} AND bucket < ?"
    )
    return f"({rows} UNION ALL {unfolded}) r", [project_id, level, *span, project_id, *span]


# Sums of costs, which can pass 2^63 (a saturated row, or ~9,223 events at the maximum cost):
# PostgreSQL's SUM of bigint is numeric (exact, unbounded). SQLite's SUM raises "integer
# overflow" past 2^63 (TOTAL is a double: inexact), so it sums three 21-bit parts of the value
# (`_whole` puts them together): each part is below 2^21, so a part's sum could overflow only
# past 2^42 rows, more than a SQLite database can hold (2^32 pages of 64 KiB, rows of more than
# 64 bytes). Counts are sums of ones: they stay below the number of events stored.
_PARTS = (42, 21, 0)
_PART_MASK = 2**21 - 1


def _exact_sum(d: Dialect, column: str) -> str:
    """SQL summing a non-negative bigint column without overflow: one value on PostgreSQL,
    the three parts joined by ',' on SQLite (read back by `_whole`)."""
    if d.postgres:
        return f"SUM({column})::text"
    return " || ',' || ".join(f"SUM(({column} >> {shift}) & {_PART_MASK})" for shift in _PARTS)


def _whole(text: Any) -> int:
    """A sum written by `_exact_sum`, as an integer (0 for NULL: no rows)."""
    if text is None:
        return 0
    parts = str(text).split(",")
    if len(parts) == 1:
        return int(parts[0])
    return sum(int(part) << shift for part, shift in zip(parts, _PARTS, strict=True))


def _user_sums(d: Dialect, prefix: str = "") -> str:
    """events, cost (`_exact_sum`) and unpriced of user rows, joined by '|' as one text."""
    return (
        f"SUM({prefix}events) || '|' || {_exact_sum(d, prefix + 'cost_nano')} || '|' || "
        f"SUM({prefix}unpriced)"
    )


_USER_SUMS = f"user_id, {_user_sums(POSTGRES)} AS sums"  # PostgreSQL only
_USER_TEXT = _user_sums(SQLITE, "r.")  # SQLite only
_USER_ROWS = "r.project_id = u.project_id AND r.level = ? AND r.user_id = u.user_id"
# SQLite: per end user seen since the previous window began (through the (project,
# last_seen) index: a user active in a window was last seen at or after its start): the
# window's sums (`_user_sums`'s text, NULL without rows), whether the user was active
# in the previous window, and the counts of the user's hour not folded yet (kept in the row:
# see rollups.Rollups.end_user_hour) with the watermark that says so. Each subquery is a
# range of the (project, level, user, bucket, ...) covering index: the cost grows with the
# users and buckets of the window; a GROUP BY over the user rows sorted all of them (~60 ms
# for a month of 2,000 users, against ~20). PostgreSQL groups the rows of the window instead
# (its plan streams the covering index, or hashes): there the end_users table is mostly dead
# rows (every commit updates its users), and EXISTS became a hashed scan of the previous
# window.
_END_USERS = select(
    f"u.user_id, (SELECT {_USER_TEXT} FROM user_rollups r WHERE {_USER_ROWS} "  # noqa: S608
    "AND r.bucket >= ? AND r.bucket < ?) AS sums, "
    f"EXISTS (SELECT 1 FROM user_rollups r WHERE {_USER_ROWS} AND r.bucket >= ? "
    "AND r.bucket < ?) AS active_before, u.hour_bucket, u.hour_events, u.hour_cost_nano, "
    f"u.hour_unpriced, {rollups.FOLDED.format(rollups.HOUR)} AS folded",
    "end_users u",
    "u.project_id = ? AND u.last_seen >= ?",
)
_UNPRICED = (
    "SUM(CASE WHEN cost_nano IS NULL AND (tokens_in IS NOT NULL OR tokens_out IS NOT NULL) "
    "THEN 1 ELSE 0 END)"
)


def _user_from_events(d: Dialect) -> str:
    """Per-user sums over events, as `_user_sums` writes them (costs may be NULL: unpriced)."""
    cost = f"COALESCE({_exact_sum(d, 'cost_nano')}, '0')"
    return f"user_id, COUNT(*) || '|' || {cost} || '|' || {_UNPRICED} AS sums"


_EVENTS_OF_USERS = "project_id = ? AND user_id IS NOT NULL AND created_at >= ? AND created_at < ?"


async def _end_users(
    d: Dialect, project_id: int, level: int, window: Window
) -> tuple[list[UserRow], int]:
    """Every end user active in the window, with their events and cost, and how many end
    users were active in the previous window. From user rollups at hour and day level (on
    SQLite with the end users' hours not folded yet); below that from the events themselves
    (a window of minute buckets is short)."""
    if level not in rollups.USER_LEVELS:
        params = [project_id, db_time(d, window.since), db_time(d, window.until)]
        previous = [project_id, db_time(d, window.previous.since), params[1]]
        return await _grouped_users(d, _user_from_events(d), "events", _EVENTS_OF_USERS,
                                    params, previous)  # fmt: skip
    since, until = _stamp(window.since), _stamp(window.until)
    before = _stamp(window.previous.since)
    if d.postgres:  # every commit writes every level; its planner groups an index range well
        where = "project_id = ? AND level = ? AND bucket >= ? AND bucket < ?"
        return await _grouped_users(d, _USER_SUMS, "user_rollups", where,
                                    [project_id, level, since, until],
                                    [project_id, level, before, since])  # fmt: skip
    params = [level, since, until, level, before, since, project_id]
    rows = await fetch(d, _END_USERS, [*params, db_time(d, window.previous.since)])
    users: list[UserRow] = []
    active_before = 0
    for row in rows:
        events, cost, unpriced = _user_figures(row["sums"])
        was_active = bool(row["active_before"])
        hour, kept = int(row["hour_bucket"]), int(row["hour_events"])
        if kept > 0 and hour >= int(row["folded"]):  # not in user_rollups yet
            if since <= hour < until:
                events += kept
                cost += int(row["hour_cost_nano"])
                unpriced += int(row["hour_unpriced"])
            was_active = was_active or before <= hour < since
        active_before += was_active
        if events:
            users.append(_user_row(str(row["user_id"]), events, cost, unpriced))
    return users, active_before


def _user_figures(sums: Any) -> tuple[int, int, int]:
    """(events, cost, unpriced) from `_user_sums`'s text (None: no rows)."""
    if sums is None:
        return 0, 0, 0
    events, cost, unpriced = str(sums).split("|")
    return int(events), _whole(cost), int(unpriced)


def _user_row(user_id: str, events: int, cost: int, unpriced: int) -> UserRow:
    """An end user's figures, saturated like the stored ones (store.MAX_SUM)."""
    return UserRow(user_id, capped(events), capped(cost) / pricing.NANO, capped(unpriced))


async def _grouped_users(
    d: Dialect, columns: str, table: str, where: str, params: list[Any], previous: list[Any]
) -> tuple[list[UserRow], int]:
    """Per-user sums of the rows of `table` matching `where` (`columns`: user_id and sums as
    `_user_sums` writes them), and the distinct users of the previous window's rows."""
    rows = await fetch(d, select(columns, table, where, "GROUP BY user_id"), params)
    sql = select("COUNT(DISTINCT user_id) AS users", table, where)
    counted = await fetch(d, sql, previous)
    users = [_user_row(str(row["user_id"]), *_user_figures(row["sums"])) for row in rows]
    return users, int(counted[0]["users"])


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _floor(value: datetime, bucket: int) -> datetime:
    stamp = math.floor(value.timestamp() / bucket) * bucket
    return datetime.fromtimestamp(stamp, UTC)


def _ceil(value: datetime, bucket: int) -> datetime:
    stamp = math.ceil(value.timestamp() / bucket) * bucket
    return datetime.fromtimestamp(stamp, UTC)
