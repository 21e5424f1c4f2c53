"""`Query.metrics`: the overview's figures over a time window, as GraphQL types.

Everything comes from `app.services.metrics` (the rollups), the same service as the overview
page; this module only names the window and translates the answer. Token sums are `BigInt`
(GraphQL's `Int` is 32-bit and a project passes 2^31 tokens quickly); counts of events,
sessions, users and feedback stay `Int`, as in `ProjectTotals`.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from app.schema.scalars import BigInt
from app.schema.types import mirror
from app.services import metrics as service
from app.services.metrics import Figures
from app.services.rollups import ALPHA


@strawberry.enum(description="The size of one point of a series.")
class MetricsBucket(Enum):
    MINUTE = "1m"
    FIVE_MINUTES = "5m"
    FIFTEEN_MINUTES = "15m"
    HOUR = "1h"
    SIX_HOURS = "6h"
    DAY = "1d"

    @property
    def seconds(self) -> int:
        """The bucket's length in seconds."""
        return service.BUCKETS[self.value]


@strawberry.enum(description="How `Metrics.series` is split.")
class MetricsGroupBy(Enum):
    NONE = strawberry.enum_value("NONE", description="One series of every event.")
    MODEL = strawberry.enum_value("MODEL", description="One series per model.")

    def to_service(self) -> service.GroupBy:
        """The service's grouping."""
        return service.GroupBy(self.value)


@strawberry.interface(
    description=(
        "Totals over a window or one bucket. Feedback counts each event's current (latest) "
        "feedback."
    )
)
class MetricsFigures:
    events: int
    tokens_in: BigInt
    tokens_out: BigInt
    cost_usd: float = strawberry.field(
        description="Estimated cost in US dollars of the priced events (see `unpricedEvents`)."
    )
    unpriced_events: int = strawberry.field(
        description="Events with tokens whose model has no known price: not in `costUsd`."
    )
    positive_feedback: int
    negative_feedback: int
    feedback_count: int = strawberry.field(description="Positive plus negative feedback.")
    positive_rate: float | None = strawberry.field(
        description="Share of positive feedback, 0 to 1; null without feedback."
    )
    latency_p50_ms: float | None = strawberry.field(
        description=(
            "Median latency in milliseconds, read from a histogram: within "
            f"{ALPHA:.1%} of the exact nearest-rank value. Null when no event had a latency."
        )
    )
    latency_p95_ms: float | None = strawberry.field(description="95th percentile latency (ms).")
    latency_p99_ms: float | None = strawberry.field(description="99th percentile latency (ms).")
    error_count: int = strawberry.field(description='Events whose status is "error".')
    error_rate: float | None = strawberry.field(
        description="errorCount / events, 0 to 1 (events of unknown status count as events, "
        "not errors); null without events."
    )


def figures(value: Figures) -> dict[str, Any]:
    """The `MetricsFigures` fields of a service figure set, as keyword arguments."""
    return {
        "events": value.events,
        "tokens_in": value.tokens_in,
        "tokens_out": value.tokens_out,
        "cost_usd": value.cost_usd,
        "unpriced_events": value.unpriced_events,
        "positive_feedback": value.feedback_positive,
        "negative_feedback": value.feedback_negative,
        "feedback_count": value.feedback_count,
        "positive_rate": value.positive_rate,
        "latency_p50_ms": value.latency_p50,
        "latency_p95_ms": value.latency_p95,
        "latency_p99_ms": value.latency_p99,
        "error_count": value.errors,
        "error_rate": value.error_rate,
    }


@strawberry.type(description="A window's totals, with its sessions and end users.")
class MetricsSummary(MetricsFigures):
    sessions: int = strawberry.field(description="Sessions started in the window.")
    end_users: int = strawberry.field(description="Distinct end users with an event in it.")

    @classmethod
    def from_view(cls, view: service.Summary) -> MetricsSummary:
        """The GraphQL object of a window's summary."""
        return cls(sessions=view.sessions, end_users=view.end_users, **figures(view.figures))


@strawberry.type(description="One bucket of a series: from `start`, `bucketSeconds` long.")
class MetricsPoint(MetricsFigures):
    start: datetime

    @classmethod
    def from_view(cls, view: service.Point) -> MetricsPoint:
        """The GraphQL object of one bucket."""
        return cls(start=view.start, **figures(view.figures))


@strawberry.type(description="A point for every bucket of the window, empty buckets as zeros.")
class MetricsSeries:
    model: str | None = strawberry.field(
        description=(
            "With groupBy NONE, null: the one series of every event. With groupBy MODEL, the "
            "series' model; null holds the events logged without a model, or the models "
            "past the busiest ones (see otherModels)."
        )
    )
    points: list[MetricsPoint]
    other_models: int = strawberry.field(
        description=(
            f"0, except in the last series of groupBy MODEL when more than "
            f"{service.MAX_MODELS} models have events: the busiest {service.MAX_MODELS} get "
            "their own series, this one sums the other models (their number)."
        )
    )


@strawberry.type(description="A model's totals over the window.")
class ModelMetrics(MetricsFigures):
    model: str | None = strawberry.field(
        description="Null: events logged without a model, or the other models (otherModels)."
    )
    other_models: int = strawberry.field(
        description=(
            f"0, except in a last row when more than {service.MAX_MODELS} models have events: "
            "the figures of the models past the busiest ones, together (their number)."
        )
    )

    @classmethod
    def from_view(cls, view: service.ModelRow) -> ModelMetrics:
        """The GraphQL object of one model's row."""
        return cls(model=view.model, other_models=view.other_models, **figures(view.figures))


@strawberry.type(description="An end user's activity over the window.")
class EndUserMetrics:
    user_id: str
    events: int
    cost_usd: float
    unpriced_events: int


@strawberry.type(
    description=(
        "The overview's figures for a window. The window is aligned to its bucket: `since` "
        "floored and `until` ceiled to a multiple of `bucketSeconds` (UTC), so every figure "
        "is exact for [since, until)."
    )
)
class Metrics:
    since: datetime
    until: datetime
    bucket_seconds: int
    summary: MetricsSummary
    previous: MetricsSummary = strawberry.field(
        description="The same figures for the window of the same length just before `since`."
    )
    series: list[MetricsSeries]
    models: list[ModelMetrics] = strawberry.field(description="By events, most first.")
    top_users_by_events: list[EndUserMetrics] = strawberry.field(
        description=f"The {service.TOP_USERS} end users with the most events, most first."
    )
    top_users_by_cost: list[EndUserMetrics] = strawberry.field(
        description=f"The {service.TOP_USERS} end users with the highest cost, highest first."
    )

    @classmethod
    def from_view(cls, view: service.Metrics) -> Metrics:
        """The GraphQL object of the service's answer."""
        return cls(
            since=view.window.since,
            until=view.window.until,
            bucket_seconds=view.window.bucket,
            summary=MetricsSummary.from_view(view.summary),
            previous=MetricsSummary.from_view(view.previous),
            series=[
                MetricsSeries(
                    model=s.model,
                    points=[MetricsPoint.from_view(p) for p in s.points],
                    other_models=s.other_models,
                )
                for s in view.series
            ],
            models=[ModelMetrics.from_view(row) for row in view.models],
            top_users_by_events=[mirror(EndUserMetrics, u) for u in view.top_users_by_events],
            top_users_by_cost=[mirror(EndUserMetrics, u) for u in view.top_users_by_cost],
        )


METRICS_DESCRIPTION = (
    "Events, tokens, cost, latency and feedback over [since, until), with a series of "
    "`bucket` points (default: the smallest bucket giving at most ~200 points). A window "
    f"spans at most {service.MAX_WINDOW.days} days and {service.MAX_POINTS} buckets. "
    f"Models past the {service.MAX_MODELS} busiest are summed (`otherModels`)."
)


async def read_metrics(
    project_id: int,
    since: datetime,
    until: datetime,
    bucket: MetricsBucket | None,
    group_by: MetricsGroupBy,
) -> Metrics:
    """The metrics of a project's window; Invalid for an empty, too long or too fine one."""
    seconds = bucket.seconds if bucket else service.default_bucket(since, until)
    window = service.align(since, until, seconds)
    return Metrics.from_view(await service.metrics(project_id, window, group_by.to_service()))
