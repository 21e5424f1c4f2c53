"""A rule's current value, read from the rollups (never from the events): the same rows the
Overview reads (`rollups.metric_rows`, `rollups.user_sums`), so a pass over every rule costs
O(rules + buckets), whatever the volume of events.

A window is trailing and aligned to its bucket: 5 minutes and 1 hour read minute rows, 24 hours
hour rows, from the bucket holding `now - window` to the one holding `now` (so the figures
cover at least the window, at most one bucket more). The cost per end user reads the end users'
hour rows (the finest level they have), so its windows are whole hours around the same span.
Rows are read once per (project, level, span) of a pass (`Readings`), shared by the rules
that need them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from app.services import pricing, rollups
from app.services.alerts.rules import Metric
from app.services.rollups import HOUR, MINUTE, Cell
from app.services.sql import Dialect

Span = tuple[int, int, int]  # level, since, until (epoch seconds)


def span_of(window_seconds: int, now: datetime, *, users: bool = False) -> Span:
    """The bucket-aligned span a window reads at `now`."""
    level = HOUR if users or window_seconds >= 86400 else MINUTE
    end = now.timestamp()
    since = math.floor((end - window_seconds) / level) * level
    until = math.ceil(end / level) * level
    if until <= end:  # `now` on a boundary: include the bucket that starts there
        until += level
    return level, since, until


def value_of(metric: Metric, cell: Cell) -> float | None:
    """A metric of the sum of a window's cells; None when it has no value (no events with a
    latency, no feedback, no events)."""
    if metric in (Metric.LATENCY_P50, Metric.LATENCY_P95):
        q = 0.50 if metric is Metric.LATENCY_P50 else 0.95
        return rollups.percentile(cell.histogram, q)
    if metric is Metric.NEGATIVE_FEEDBACK_RATE:
        rated = cell.feedback_positive + cell.feedback_negative
        return cell.feedback_negative / rated if rated else None
    if metric is Metric.ERROR_RATE:
        return cell.errors / cell.events if cell.events else None
    if metric is Metric.EVENTS:
        return float(cell.events)
    if metric is Metric.COST:
        return cell.cost_nano / pricing.NANO
    if metric is Metric.UNPRICED_EVENTS:
        return float(cell.unpriced)
    raise ValueError(metric)


class Readings:
    """The rollup rows of one evaluation pass, read once per (project, span)."""

    def __init__(self, d: Dialect, now: datetime) -> None:
        self.d = d
        self.now = now
        self._cells: dict[tuple[int, Span], dict[str, Cell]] = {}
        self._users: dict[tuple[int, Span], tuple[str, int] | None] = {}
        self.queries = 0

    async def value(
        self, project_id: int, metric: Metric, model: str | None, window_seconds: int
    ) -> tuple[float | None, str | None]:
        """The rule's value now, and what it is about (the end user, for the cost per end
        user)."""
        if metric is Metric.COST_PER_END_USER:
            top = await self._top_user(project_id, span_of(window_seconds, self.now, users=True))
            if top is None:
                return 0.0, None
            return top[1] / pricing.NANO, top[0]
        by_model = await self._by_model(project_id, span_of(window_seconds, self.now))
        if model is not None:
            cell = by_model.get(model)
        else:
            cell = Cell()
            for part in by_model.values():
                cell.add(part)
        return value_of(metric, cell or Cell()), None

    async def _by_model(self, project_id: int, span: Span) -> dict[str, Cell]:
        key = (project_id, span)
        found = self._cells.get(key)
        if found is None:
            level, since, until = span
            self.queries += 1
            rows: list[dict[str, Any]] = await rollups.metric_rows(
                self.d, level, project_id, _time(since), _time(until)
            )
            found = {}
            for row in rows:
                found.setdefault(str(row["model"]), Cell()).add(Cell.from_row(row))
            self._cells[key] = found
        return found

    async def _top_user(self, project_id: int, span: Span) -> tuple[str, int] | None:
        key = (project_id, span)
        if key not in self._users:
            level, since, until = span
            self.queries += 1
            users, _ = await rollups.user_sums(
                self.d, project_id, level, _time(since), _time(since), _time(until)
            )
            top = max(users, key=lambda u: (u.cost_nano, u.user_id), default=None)
            self._users[key] = (top.user_id, top.cost_nano) if top else None
        return self._users[key]


def _time(stamp: int) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def window_start(now: datetime, window_seconds: int) -> datetime:
    """The earliest time a window reads at `now` (for messages)."""
    return now - timedelta(seconds=window_seconds)
