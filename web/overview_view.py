"""What the overview shows, shaped for its template and its charts: figure cards with their
change against the previous period, table rows, and the charts' JSON. No I/O here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.services.metrics import Figures, Metrics, Point, Series, Summary

NO_MODEL = "(no model)"
OTHER_MODELS = "other models"
# Token chart: the models with most tokens, the rest summed: with in and out, at most 12 lines,
# one colour each from web/static/overview.js's palettes.
CHART_MODELS = 5
MINUS = "\N{MINUS SIGN}"
LARGE = 9.995  # a rise past +999% is said as "up from" the previous value
NO_VALUE = "\N{EM DASH}"  # a figure that cannot be computed (no latency, no feedback)


@dataclass(frozen=True, slots=True)
class Card:
    """One figure: its display value, its raw value (for `data-value`) and, in words, its
    change against the previous period ("" when there is nothing true to say)."""

    key: str
    label: str
    value: str
    raw: float | int | None
    change: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class ModelLine:
    """A row of the breakdown by model (`model` None: events without one)."""

    model: str | None
    label: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class Period:
    """What the cards compare with: the previous period in words ("the previous 24 hours"),
    and whether each period had any event at all."""

    words: str
    had_events: bool
    has_events: bool

    @classmethod
    def of(cls, length: timedelta, current: Summary, previous: Summary) -> Period:
        """The period before a window of `length`."""
        words = duration(length)
        words = words[2:] if words.startswith("1 ") else words  # "the previous hour"
        return cls(f"the previous {words}", previous.figures.events > 0, current.figures.events > 0)

    def silent(self) -> str | None:
        """The whole comparison when one period has nothing: "" (both empty) or "no data in
        the previous …"; None when both periods have events, so each figure compares."""
        if not self.had_events:
            return f"no data in {self.words}" if self.has_events else ""
        return None


def cards(current: Summary, previous: Summary, length: timedelta) -> list[Card]:
    """The figure cards, each compared with the previous period of the same `length`."""
    now, before = current.figures, previous.figures
    period = Period.of(length, current, previous)
    rate, old_rate = now.positive_rate, before.positive_rate
    unpriced = now.unpriced_events

    def counted(key: str, label: str, value: int, old: int) -> Card:
        return Card(key, label, f"{value:,}", value, change(value, old, period, "{:,}".format))

    return [
        counted("events", "Events", now.events, before.events),
        counted("sessions", "Sessions", current.sessions, previous.sessions),
        counted("end_users", "End users", current.end_users, previous.end_users),
        Card("positive_rate", "Positive feedback", percent(rate), rate,
             points(rate, old_rate, period, "no feedback"),
             f"of {now.feedback_count:,} feedback" if now.feedback_count else "no feedback"),
        Card("latency_p50", "Latency p50", ms(now.latency_p50), now.latency_p50,
             change(now.latency_p50, before.latency_p50, period, ms, "no latency")),
        Card("latency_p95", "Latency p95", ms(now.latency_p95), now.latency_p95,
             change(now.latency_p95, before.latency_p95, period, ms, "no latency")),
        counted("tokens_in", "Tokens in", now.tokens_in, before.tokens_in),
        counted("tokens_out", "Tokens out", now.tokens_out, before.tokens_out),
        Card("cost", "Estimated cost", usd(now.cost_usd), now.cost_usd,
             change(now.cost_usd, before.cost_usd, period, usd),
             f"+ {unpriced:,} unpriced event{'s' if unpriced != 1 else ''} (no known price)"
             if unpriced else ""),
        _errors(now, before, period),
    ]  # fmt: skip


def _errors(now: Figures, before: Figures, period: Period) -> Card:
    """The error rate: errors over every event (unknown status counts as an event, not an
    error; app/services/metrics.py), with the count beside it."""
    rate, errors = now.error_rate, now.errors
    note = f"{errors:,} error{'s' if errors != 1 else ''} of {now.events:,} events"
    shown = NO_VALUE if rate is None else f"{rate:.1%}"  # a small rate matters: one decimal
    return Card("error_rate", "Error rate", shown, rate,
                points(rate, before.error_rate, period, "no events"),
                note if now.events else "")  # fmt: skip


def model_lines(metrics: Metrics) -> list[ModelLine]:
    """The breakdown by model, as the service orders it (most events first; the models past
    the busiest ones together last)."""
    return [
        ModelLine(row.model, _others(row.other_models) or row.model or NO_MODEL, row.figures)
        for row in metrics.models
    ]


def _others(count: int) -> str:
    return f"{count:,} other model{'s' if count != 1 else ''}" if count else ""


def change(
    value: float | None,
    previous: float | None,
    period: Period,
    shown: Callable[[Any], str],
    missing: str = "none",
) -> str:
    """A figure against the previous period: "+25% vs the previous 24 hours", "down from 12
    in …", "no change vs …"; `missing` names what the previous period lacked when it had
    events but no such figure (latency); "" when this period has no such figure."""
    silent, words = period.silent(), period.words
    if silent is not None:
        return silent
    if value is None:
        return ""
    if previous is None:
        return f"{missing} in {words}"
    if previous == 0:
        return f"no change vs {period.words}" if value == 0 else f"up from {shown(0)} in {words}"
    ratio = (value - previous) / previous
    if abs(ratio) < 0.005:
        return f"no change vs {period.words}"
    if value == 0 or ratio >= LARGE:  # "+14,329%" is true, "up from 540" is read
        return f"{'down' if value == 0 else 'up'} from {shown(previous)} in {words}"
    return f"{signed(ratio)} vs {period.words}"


def points(value: float | None, previous: float | None, period: Period, missing: str) -> str:
    """The change of a share, in percentage points ("+5 pts vs the previous 24 hours")."""
    silent = period.silent()
    if silent is not None:
        return silent
    if value is None:
        return ""
    if previous is None:
        return f"{missing} in {period.words}"
    delta = round((value - previous) * 100)
    if delta == 0:
        return f"no change vs {period.words}"
    return f"{delta:+d} pts vs {period.words}".replace("-", MINUS)


def signed(ratio: float) -> str:
    """A relative change as a signed whole percentage, with a true minus sign."""
    return f"{ratio:+,.0%}".replace("-", MINUS)


def percent(rate: float | None) -> str:
    """A share as a whole percentage; a dash when there is nothing to divide."""
    return NO_VALUE if rate is None else f"{rate:.0%}"


def ms(value: float | None) -> str:
    """A latency in milliseconds, or seconds once it is long."""
    if value is None:
        return NO_VALUE
    return f"{value:,.0f} ms" if value < 1000 else f"{value / 1000:,.2f} s"


def usd(value: float) -> str:
    """A dollar amount with the precision small amounts need."""
    if value == 0:
        return "$0"
    if value < 0.0001:  # not "$0.0000": something was spent
        return "< $0.0001"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def duration(length: timedelta) -> str:
    """A window's length in words ("24 hours", "7 days"): days from two days on."""
    seconds = int(length.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= (2 * size if unit == "day" else size):
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def chart_data(overall: Metrics) -> dict[str, Any]:
    """The charts' data: one x axis (bucket starts, Unix seconds) and the values per chart."""
    points = overall.series[0].points if overall.series else ()
    window = overall.window
    figures = [point.figures for point in points]
    return {
        "since": int(window.since.timestamp()),
        "until": int(window.until.timestamp()),
        "bucket": window.bucket,
        "x": [int(point.start.timestamp()) for point in points],
        "events": [f.events for f in figures],
        "latency": {
            "p50": [f.latency_p50 for f in figures],
            "p95": [f.latency_p95 for f in figures],
            "p99": [f.latency_p99 for f in figures],
        },
        "feedback": {
            "positive": [f.feedback_positive for f in figures],
            "negative": [f.feedback_negative for f in figures],
        },
        "cost": [f.cost_usd for f in figures],
        "unpriced": [f.unpriced_events for f in figures],
        "tokens": _token_series(overall.series_by_model, points),
    }


def _token_series(series: tuple[Series, ...], axis: tuple[Point, ...]) -> list[dict[str, Any]]:
    """Tokens in and out per model: the busiest models, then the rest summed (with the
    service's own sum of the models past its busiest)."""
    ranked = sorted(
        (s for s in series if not s.other_models),
        key=lambda s: -sum(_tokens(p.figures) for p in s.points),
    )
    shown = ranked[:CHART_MODELS]
    rest = ranked[CHART_MODELS:] + [s for s in series if s.other_models]
    lines = [_token_line(s.model or NO_MODEL, [s]) for s in shown]
    if rest:
        lines.append(_token_line(OTHER_MODELS, rest))
    if not lines:  # no event at all: still one (empty) line, so the chart has its axes
        lines.append({"label": "all models", "in": [0] * len(axis), "out": [0] * len(axis)})
    return lines


def _token_line(label: str, group: list[Series]) -> dict[str, Any]:
    columns = list(zip(*(s.points for s in group), strict=True))
    return {
        "label": label,
        "in": [sum(p.figures.tokens_in for p in column) for column in columns],
        "out": [sum(p.figures.tokens_out for p in column) for column in columns],
    }


def _tokens(figures: Figures) -> int:
    return figures.tokens_in + figures.tokens_out
