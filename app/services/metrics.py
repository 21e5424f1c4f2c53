"""Metrics over time: what the overview page and `Query.metrics` read.

Everything here reads the rollups (through `app.services.rollups`' `metric_spans` and
`user_sums`; the ingest transaction keeps them), so the cost of a request grows with the
number of buckets and of end users, not of events. The exception is the end users of a window
of minute buckets (1m, 5m, 15m: at most MAX_POINTS of them), summed from the events. Windows
are aligned to their bucket: `since` is floored and `until` ceiled to a multiple of the bucket
size (UTC), so every figure is exact for the window it reports.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from app.errors import Invalid
from app.services import pricing, rollups
from app.services.metrics_sums import EMPTY, Sum, sum_of
from app.services.sql import dialect, to_utc
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


class Detail(Enum):
    """How much of the series `metrics` builds (a point's latency percentiles are most of the
    time a week of hourly buckets takes)."""

    FIGURES = "figures"  # no series: the figures and tables (the overview page)
    CHARTS = "charts"  # the overview's charts: each model's points without latency percentiles
    FULL = "full"  # every figure of every point (GraphQL)


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
    def span(self) -> tuple[datetime, datetime]:
        """(since, until)."""
        return self.since, self.until

    @property
    def points(self) -> int:
        """Buckets in the window."""
        return int(self.length.total_seconds()) // self.bucket


@dataclass(frozen=True, slots=True)
class Figures:
    """Totals over a window (or one bucket). Costs are in US dollars; `unpriced_events` counts
    events with tokens whose model has no known price (their cost is not in `cost_usd`).
    Latency percentiles are in milliseconds, None when no event in the window had a latency.
    `errors` counts events whose status is "error"."""

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
    errors: int = 0

    @property
    def error_rate(self) -> float | None:
        """Errors over all events (0..1), None without events. Events of unknown status count
        as events, not errors: the rate is "the share of calls known to have failed", which
        stays comparable whether or not a client reports success."""
        return self.errors / self.events if self.events else None

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
    start = _floor(to_utc(since), bucket)
    end = _ceil(to_utc(until), bucket)
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
    end = _ceil(to_utc(now or datetime.now(UTC)), bucket)
    return Window(end - timedelta(seconds=length), end, bucket)


def default_bucket(since: datetime, until: datetime) -> int:
    """The bucket that fits a custom window: the smallest giving at most ~200 points."""
    seconds = max(1.0, (to_utc(until) - to_utc(since)).total_seconds())
    for size in BUCKETS.values():
        if seconds / size <= 200:
            return size
    return BUCKETS["1d"]


async def metrics(
    project_id: int, window: Window, group_by: GroupBy = GroupBy.NONE,
    detail: Detail = Detail.FULL,
) -> Metrics:  # fmt: skip
    """The overview's figures, series, model breakdown and top users for `window`, with the
    series `detail` asks for (Detail.FIGURES: `series` and `series_by_model` are empty)."""
    d = dialect()
    level = max(size for size in rollups.LEVELS if window.bucket % size == 0)
    previous = window.previous
    series = detail is not Detail.FIGURES
    rows = await rollups.metric_spans(d, project_id, _spans(level, window, series))
    before, by_key = _cells(rows, window)
    models = _Models(window, by_key, detail)
    users = await rollups.top_users(
        d, project_id, level, previous.since, window.since, window.until, TOP_USERS
    )
    return Metrics(
        window=window,
        summary=Summary(_figures(models.total), models.total.sessions, users.active),
        previous=Summary(_figures(before), before.sessions, users.active_before),
        series=(
            ()
            if not series
            else tuple(models.per_model)
            if group_by is GroupBy.MODEL
            else (models.series(None, models.overall),)
        ),
        series_by_model=tuple(models.per_model),
        models=tuple(models.rows),
        top_users_by_events=tuple(_user_row(*user) for user in users.by_events),
        top_users_by_cost=tuple(_user_row(*user) for user in users.by_cost),
    )


def _spans(level: int, window: Window, series: bool) -> list[tuple[int, datetime, datetime]]:
    """The (level, since, until) spans to read: the window at `level` when its series are
    built; the rest (the previous window, of which only the total is shown, and the window
    without series) as `rollups.whole_days`: whole days as day rows, which count the same
    events as their hours (with hourly buckets, a week is ~30 rows a model, not 168)."""
    before, since, until = (int(at.timestamp()) for at in (window.previous.since, *window.span))
    spans = rollups.whole_days(level, before, since)
    spans += [(level, since, until)] if series else rollups.whole_days(level, since, until)
    return [(lvl, _utc(since), _utc(until)) for lvl, since, until in spans]


def _cells(rows: list[dict[str, Any]], window: Window) -> tuple[Sum, dict[tuple[str, int], Sum]]:
    """The rows' sum before the window, and the window's cells by (model, bucket index).

    Each (model, bucket index) is one row, or a few (a level's row and the minute rows not
    folded into it yet). The sums are then built from those cells, so each histogram is
    merged twice (into its model and its bucket)."""
    start = int(window.since.timestamp())
    before: list[Sum] = []
    by_key: dict[tuple[str, int], list[Sum]] = {}
    for row in rows:
        bucket, cell = int(row["bucket"]), Sum.from_row(row)
        if bucket < start:
            before.append(cell)
        else:
            key = (str(row["model"]), (bucket - start) // window.bucket)
            by_key.setdefault(key, []).append(cell)
    return sum_of(before), {key: sum_of(cells) for key, cells in by_key.items()}


class _Models:
    """The window's cells split by model: the busiest MAX_MODELS each on their own, the rest
    summed; and by bucket index, every model together."""

    def __init__(self, window: Window, by_key: dict[tuple[str, int], Sum], detail: Detail) -> None:
        self.window = window
        cells_of: dict[str, list[Sum]] = {}
        for (model, _), cell in by_key.items():
            cells_of.setdefault(model, []).append(cell)
        by_model = {model: sum_of(cells) for model, cells in cells_of.items()}
        ranked = sorted(by_model, key=lambda model: (-by_model[model].events, model))
        shown, rest = ranked[:MAX_MODELS], ranked[MAX_MODELS:]
        self.total = sum_of(list(by_model.values()))
        self.rows = [ModelRow(_model(name), _figures(by_model[name])) for name in shown]
        if rest:
            rest_total = sum_of([by_model[name] for name in rest])
            self.rows.append(ModelRow(None, _figures(rest_total), len(rest)))
        self.overall: dict[int, Sum] = {}
        self.per_model: list[Series] = []
        if detail is not Detail.FIGURES:
            self._split(by_key, shown, set(rest), latency=detail is Detail.FULL)

    def _split(
        self, by_key: dict[tuple[str, int], Sum], shown: list[str], rest: set[str], latency: bool
    ) -> None:
        """The series: every model together by bucket (`overall`), and each shown model's
        (`per_model`, without latency percentiles unless `latency`), then the rest's summed."""
        overall: dict[int, list[Sum]] = {}
        of_model: dict[str, dict[int, Sum]] = {name: {} for name in shown}
        others: dict[int, list[Sum]] = {}
        for (model, index), cell in by_key.items():
            overall.setdefault(index, []).append(cell)
            if model in rest:
                others.setdefault(index, []).append(cell)
            else:
                of_model[model][index] = cell
        self.overall = {index: sum_of(cells) for index, cells in overall.items()}
        self.per_model = [self.series(_model(name), of_model[name], 0, latency) for name in shown]
        if rest:
            summed = {index: sum_of(cells) for index, cells in others.items()}
            self.per_model.append(self.series(None, summed, len(rest), latency))

    def series(
        self, model: str | None, at: dict[int, Sum], other_models: int = 0, latency: bool = True
    ) -> Series:
        """A series with a point for every bucket of the window (`at`: cells by index), its
        latency percentiles None unless `latency`."""
        window = self.window
        step = timedelta(seconds=window.bucket)
        points = tuple(
            Point(window.since + i * step, _figures(at[i], latency) if i in at else _NOTHING)
            for i in range(window.points)
        )
        return Series(model, points, other_models)


# Figures by their sum's key and `latency` (see Sum.key): a past bucket's figures are the same
# at every tick of a live overview. Bounded: emptied when full.
FIGURES_KEPT = 8192
_kept: dict[Hashable, Figures] = {}


def _figures(cell: Sum, latency: bool = True) -> Figures:
    """What a sum of rollup cells shows: dollars, and percentiles from the histogram (None
    without `latency`); kept by the sum's key."""
    if cell.key is None:
        return _figures_of(cell, latency)
    key = (cell.key, latency)
    figures = _kept.get(key)
    if figures is None:
        if len(_kept) >= FIGURES_KEPT:
            _kept.clear()
        figures = _kept[key] = _figures_of(cell, latency)
    return figures


def _figures_of(cell: Sum, latency: bool) -> Figures:
    events, tokens_in, tokens_out, cost, unpriced, positive, negative, _, errors = cell.counts
    p50, p95, p99 = cell.latency() if latency else (None, None, None)
    # Sums of cells saturate like the stored ones (store.MAX_SUM): "at least this much".
    return Figures(
        events=capped(events),
        tokens_in=capped(tokens_in),
        tokens_out=capped(tokens_out),
        cost_usd=capped(cost) / pricing.NANO,
        unpriced_events=capped(unpriced),
        feedback_positive=capped(positive),
        feedback_negative=capped(negative),
        latency_p50=p50,
        latency_p95=p95,
        latency_p99=p99,
        errors=capped(errors),
    )


_NOTHING = _figures(EMPTY)  # an empty bucket's figures (Figures are immutable: shared)


def _model(stored: str) -> str | None:
    return None if stored == rollups.NO_MODEL else stored


def _user_row(user_id: str, events: int, cost: int, unpriced: int) -> UserRow:
    """An end user's figures, saturated like the stored ones (store.MAX_SUM)."""
    return UserRow(user_id, capped(events), capped(cost) / pricing.NANO, capped(unpriced))


def _utc(stamp: int) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def _floor(value: datetime, bucket: int) -> datetime:
    stamp = math.floor(value.timestamp() / bucket) * bucket
    return datetime.fromtimestamp(stamp, UTC)


def _ceil(value: datetime, bucket: int) -> datetime:
    stamp = math.ceil(value.timestamp() / bucket) * bucket
    return datetime.fromtimestamp(stamp, UTC)
