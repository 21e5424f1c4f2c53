"""The overview's server time: `metrics()` (rollups) against the same figures computed from the
raw `events` table, both timed in the same run, plus a cross-check that they agree.

The raw-events reference is what the overview would cost without rollups: per-bucket and
per-model counts and token sums, the summary (distinct end users and sessions, latency
percentiles, current feedback) for the window and the one before, the top end users, and the
sessions started (from `sessions`). It leaves out per-bucket percentiles and costs, so it
understates what scanning would cost.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.services.metrics import GroupBy, Metrics, Window, metrics, window_for_range
from app.services.sql import IS_LATEST, Dialect, db_time, dialect, fetch

TARGET_MS = 150.0
_WHERE = "project_id = ? AND created_at >= ? AND created_at < ?"
_SUMS = "SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out"
# Each event's current feedback, for the window's events (parameters: project, since, until).
_FEEDBACK = (
    "SELECT f.score, COUNT(*) AS n FROM feedback f JOIN events e ON e.id = f.event_id "  # noqa: S608
    "WHERE e.project_id = ? AND e.created_at >= ? AND e.created_at < ? "
    f"AND {IS_LATEST.format(f='f')} GROUP BY f.score"
)


@dataclass(frozen=True)
class Timing:
    """Milliseconds per call: median and p95 of the samples."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median sample."""
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        """The 95th percentile (nearest rank)."""
        ordered = sorted(self.samples)
        return ordered[max(0, round(0.95 * len(ordered)) - 1)]


@dataclass(frozen=True)
class RangeResult:
    """One overview range: rollups, raw-events reference, and what disagreed between them."""

    name: str
    rollups: Timing
    raw: Timing
    mismatches: tuple[str, ...]


async def timed(call: Callable[[], Awaitable[Any]], repeat: int) -> Timing:
    """Time `repeat` awaited calls (warm up first: the first call pays for cold caches)."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return Timing(tuple(samples))


async def time_range(project_id: int, name: str, repeat: int, raw_repeat: int) -> RangeResult:
    """Time the overview of range `name` both ways and compare their figures."""
    window = window_for_range(name)
    d = dialect()
    result = await metrics(project_id, window, GroupBy.MODEL)  # also the warm-ups
    raw = await raw_overview(d, project_id, window)
    rollups = await timed(lambda: metrics(project_id, window, GroupBy.MODEL), repeat)
    reference = await timed(lambda: raw_overview(d, project_id, window), raw_repeat)
    return RangeResult(name, rollups, reference, tuple(compare(result, raw)))


async def raw_overview(d: Dialect, project_id: int, window: Window) -> dict[str, Any]:
    """The overview's main figures straight from `events` (see the module docstring)."""
    params = [project_id, db_time(d, window.since), db_time(d, window.until)]
    start = (  # the bucket's number; `bucket` is an int from metrics.BUCKETS
        f"CAST(floor(extract(epoch FROM created_at) / {window.bucket}) AS BIGINT)"
        if d.postgres
        else f"CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) / {window.bucket}"
    )
    series_columns = f"{start} AS bucket, model, COUNT(*) AS n, {_SUMS}"
    users_tail = "AND user_id IS NOT NULL GROUP BY user_id ORDER BY n DESC LIMIT 10"
    return {
        "series": await fetch(d, _events(series_columns, "GROUP BY bucket, model"), params),
        "summary": await _raw_summary(d, params),
        "previous": await _raw_summary(
            d, [project_id, db_time(d, window.previous.since), db_time(d, window.since)]
        ),
        "top_users": await fetch(d, _events("user_id, COUNT(*) AS n", users_tail), params),
        "sessions_started": (await fetch(d, _SESSIONS_STARTED, params))[0]["n"],
    }


# Sessions whose first event is in the window, straight from `sessions` (no index on
# first_event_at: the rollups count them).
_SESSIONS_STARTED = (
    "SELECT COUNT(*) AS n FROM sessions WHERE project_id = ? AND first_event_at >= ? "
    "AND first_event_at < ?"
)


def _events(columns: str, tail: str = "") -> str:
    """SELECT `columns` from the window's events (parameters: project, since, until)."""
    return f"SELECT {columns} FROM events WHERE {_WHERE} {tail}".rstrip()  # noqa: S608


async def _raw_summary(d: Dialect, params: list[Any]) -> dict[str, Any]:
    columns = (
        f"COUNT(*) AS n, {_SUMS}, COUNT(latency_ms) AS latencies, "
        "COUNT(DISTINCT user_id) AS end_users, COUNT(DISTINCT session_key) AS sessions"
    )
    (row,) = await fetch(d, _events(columns), params)
    return {
        **row,
        "feedback": await fetch(d, _FEEDBACK, params),
        "latency": await _percentiles(d, params, int(row["latencies"])),
    }


async def _percentiles(d: Dialect, params: list[Any], count: int) -> list[Any]:
    if d.postgres:
        columns = "percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS p"
        return list((await fetch(d, _events(columns), params))[0]["p"] or [])
    # SQLite has no percentile function: one sorted lookup per percentile.
    sql = _events("latency_ms", "AND latency_ms IS NOT NULL ORDER BY latency_ms LIMIT 1 OFFSET ?")
    found = []
    for share in (0.5, 0.95, 0.99) if count else ():
        found.append((await fetch(d, sql, [*params, int(share * (count - 1))]))[0]["latency_ms"])
    return found


def compare(result: Metrics, raw: dict[str, Any]) -> list[str]:
    """What differs between the rollups and the raw events: totals, end users, events by model."""
    figures, summary = result.summary.figures, raw["summary"]
    pairs = {
        "events": (figures.events, summary["n"]),
        "tokens_in": (figures.tokens_in, summary["tokens_in"] or 0),
        "tokens_out": (figures.tokens_out, summary["tokens_out"] or 0),
        "end users": (result.summary.end_users, summary["end_users"]),
        "sessions started": (result.summary.sessions, raw["sessions_started"]),
    }
    by_model: Counter[str | None] = Counter()
    for row in raw["series"]:
        by_model[row["model"]] += int(row["n"])
    for model_row in result.models:
        pairs[f"events of {model_row.model}"] = (
            model_row.figures.events,
            by_model.pop(model_row.model, 0),
        )
    pairs.update({f"events of {model}": (0, n) for model, n in by_model.items()})
    return [f"{name}: rollups {a:,} vs raw {b:,}" for name, (a, b) in pairs.items() if a != b]
