"""What an alert rule is made of: its metric, window and comparison, and the checks of a rule
written by a client (the dashboard's form and GraphQL share them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from app.errors import Invalid

NAME_MAX = 128
MODEL_MAX = 256
MAX_RULES = 200  # per project: the evaluator's pass stays bounded (bench/alerts)
MAX_DESTINATIONS = 50  # per project
E = TypeVar("E", bound=StrEnum)


class Metric(StrEnum):
    """What a rule watches; each is read from the rollups (app/services/alerts/measure.py)."""

    LATENCY_P50 = "latency_p50"
    LATENCY_P95 = "latency_p95"
    NEGATIVE_FEEDBACK_RATE = "negative_feedback_rate"
    ERROR_RATE = "error_rate"
    EVENTS = "events"
    COST = "cost"
    COST_PER_END_USER = "cost_per_end_user"
    UNPRICED_EVENTS = "unpriced_events"


METRIC_LABELS: dict[Metric, str] = {
    Metric.LATENCY_P50: "latency p50 (ms)",
    Metric.LATENCY_P95: "latency p95 (ms)",
    Metric.NEGATIVE_FEEDBACK_RATE: "negative feedback rate (0-1)",
    Metric.ERROR_RATE: "error rate (0-1)",
    Metric.EVENTS: "events",
    Metric.COST: "cost (USD)",
    Metric.COST_PER_END_USER: "cost of the costliest end user (USD)",
    Metric.UNPRICED_EVENTS: "unpriced events",
}


class Comparison(StrEnum):
    """How the metric's value is compared with the threshold."""

    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"

    @property
    def symbol(self) -> str:
        """The operator as people write it."""
        return {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[self.value]

    def holds(self, value: float, threshold: float) -> bool:
        """Whether `value <op> threshold`."""
        if self is Comparison.GT:
            return value > threshold
        if self is Comparison.GTE:
            return value >= threshold
        if self is Comparison.LT:
            return value < threshold
        return value <= threshold


# Trailing windows a rule may watch, by name, in seconds.
WINDOWS: dict[str, int] = {"5m": 300, "1h": 3600, "24h": 86400}
WINDOW_NAMES = {seconds: name for name, seconds in WINDOWS.items()}


class DestinationKind(StrEnum):
    """A generic webhook (signed JSON) or a Slack-compatible incoming webhook."""

    WEBHOOK = "webhook"
    SLACK = "slack"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule as a client wrote it, checked (`check_rule`)."""

    name: str
    metric: Metric
    model: str | None
    window_seconds: int
    comparison: Comparison
    threshold: float
    enabled: bool = True


def check_rule(
    name: str,
    metric: str,
    window: str | int,
    comparison: str,
    threshold: float | str,
    model: str | None = None,
    enabled: bool = True,
) -> RuleSpec:
    """The rule, or Invalid naming the first field that is wrong."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise Invalid(f"name: 1 to {NAME_MAX} characters")
    found_metric = _member(Metric, metric, "metric")
    seconds = window if isinstance(window, int) else WINDOWS.get(str(window).strip())
    if seconds not in WINDOW_NAMES:
        raise Invalid(f"window must be one of {', '.join(WINDOWS)}")
    found_comparison = _member(Comparison, comparison, "comparison")
    value = _threshold(threshold)
    model = (model or "").strip() or None
    if model is not None and len(model) > MODEL_MAX:
        raise Invalid(f"model: at most {MODEL_MAX} characters")
    if model is not None and found_metric is Metric.COST_PER_END_USER:
        raise Invalid("model: the cost per end user is for every model (no model filter)")
    return RuleSpec(name, found_metric, model, seconds, found_comparison, value, enabled)


def _member(enum: type[E], value: str, field: str) -> E:
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        raise Invalid(f"{field} must be one of {', '.join(e.value for e in enum)}") from None


def _threshold(value: float | str) -> float:
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise Invalid("threshold must be a number") from None
    if not math.isfinite(number) or abs(number) > 1e15:
        raise Invalid("threshold must be a finite number within ±1e15")
    return number


def describe(metric: Metric, model: str | None, window_seconds: int) -> str:
    """ "latency p95 (ms) of gpt-4o over 5m"."""
    of_model = f" of {model}" if model else ""
    return f"{METRIC_LABELS[metric]}{of_model} over {WINDOW_NAMES.get(window_seconds, '?')}"
