"""GraphQL's alert types and inputs (`alertRules`, `alertEvents`, `alertDestinations`; the
rule and destination mutations), backed by `app/services/alerts/`."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.errors import Invalid
from app.services.alerts import manage
from app.services.alerts.rules import Comparison, DestinationKind, Metric, RuleSpec, check_rule
from models import AlertDestination as DestinationRow

strawberry.enum(Metric, name="AlertMetric", description="What a rule watches.")
strawberry.enum(
    Comparison, name="AlertComparison", description="value > (GT), >= (GTE), < (LT), <= (LTE) "
    "the threshold.",
)  # fmt: skip
strawberry.enum(
    DestinationKind, name="AlertDestinationKind",
    description="WEBHOOK: signed JSON; SLACK: a Slack-compatible incoming webhook ({text}).",
)  # fmt: skip


@strawberry.enum(name="AlertWindow", description="The trailing window a rule reads.")
class AlertWindow(Enum):
    """A rule's window, in seconds."""

    FIVE_MINUTES = 300
    ONE_HOUR = 3600
    ONE_DAY = 86400


@strawberry.type(description="Where alert messages go.")
class AlertDestination:
    """A destination (its secret is shown only by createAlertDestination)."""

    id: strawberry.ID
    name: str
    kind: DestinationKind
    url: str
    last_success_at: datetime | None
    last_error: str | None = strawberry.field(
        description="The error of the last delivery that failed after three tries."
    )
    last_error_at: datetime | None

    @classmethod
    def of(cls, row: DestinationRow) -> AlertDestination:
        """From the stored row."""
        return cls(
            id=strawberry.ID(str(row.id)), name=row.name, kind=DestinationKind(row.kind),
            url=row.url, last_success_at=row.last_success_at, last_error=row.last_error,
            last_error_at=row.last_error_at,
        )  # fmt: skip


@strawberry.type(description="A new destination and its signing secret, shown this once.")
class CreatedAlertDestination:
    """What createAlertDestination answers."""

    destination: AlertDestination
    secret: str = strawberry.field(
        description="Signs X-Phospho-Signature (HMAC-SHA256 of `<timestamp>.<body>`); shown "
        "only here."
    )


@strawberry.type(description="An alert rule and its state (OK, FIRING or RESOLVED).")
class AlertRule:
    """A rule over one metric of the project."""

    id: strawberry.ID
    name: str
    metric: Metric
    model: str | None
    window: AlertWindow
    comparison: Comparison
    threshold: float
    enabled: bool
    state: str = strawberry.field(description="ok, firing or resolved.")
    state_changed_at: datetime | None
    last_value: float | None
    destinations: list[AlertDestination]

    @classmethod
    def of(cls, view: manage.RuleView) -> AlertRule:
        """From the service's view."""
        rule = view.rule
        return cls(
            id=strawberry.ID(str(rule.id)), name=rule.name, metric=Metric(rule.metric),
            model=rule.model, window=AlertWindow(rule.window_seconds),
            comparison=Comparison(rule.comparison), threshold=rule.threshold,
            enabled=rule.enabled, state=rule.state, state_changed_at=rule.state_changed_at,
            last_value=rule.last_value,
            destinations=[AlertDestination.of(d) for d in view.destinations],
        )  # fmt: skip


@strawberry.type(description="One message of an alert event to one destination.")
class AlertDelivery:
    """A delivery's outcome."""

    destination: str = strawberry.field(description="The destination's name.")
    status: str = strawberry.field(description="pending, delivered or failed.")
    attempts: int
    last_error: str | None
    delivered_at: datetime | None


@strawberry.type(description="A rule's state change (firing, resolved) or a test message.")
class AlertEvent:
    """One entry of the alert history."""

    id: strawberry.ID
    rule_id: strawberry.ID | None
    rule_name: str
    kind: str = strawberry.field(description="firing, resolved or test.")
    value: float | None
    threshold: float | None
    message: str
    created_at: datetime
    deliveries: list[AlertDelivery]

    @classmethod
    def of(cls, view: manage.EventView) -> AlertEvent:
        """From the service's view."""
        e = view.event
        return cls(
            id=strawberry.ID(str(e.id)),
            rule_id=strawberry.ID(str(e.rule_id)) if e.rule_id else None,
            rule_name=e.rule_name, kind=e.kind, value=e.value, threshold=e.threshold,
            message=e.message, created_at=e.created_at,
            deliveries=[
                AlertDelivery(destination=name, status=d.status, attempts=d.attempts,
                              last_error=d.last_error, delivered_at=d.delivered_at)
                for d, name in view.deliveries
            ],
        )  # fmt: skip


@strawberry.input(description="An alert rule.")
class AlertRuleInput:
    """What createAlertRule and updateAlertRule take."""

    name: str
    metric: Metric
    window: AlertWindow
    comparison: Comparison
    threshold: float
    model: str | None = strawberry.field(default=None, description="Only this model's events.")
    enabled: bool = True
    destination_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Destinations to send to (createAlertRule: none when null; "
        "updateAlertRule: unchanged when null).",
    )

    def spec(self) -> RuleSpec:
        """The checked rule."""
        return check_rule(
            self.name, Metric(self.metric).value, self.window.value,
            Comparison(self.comparison).value, self.threshold, self.model, self.enabled,
        )  # fmt: skip

    def ids(self) -> list[int] | None:
        """The destination ids as numbers; Invalid for one that is not."""
        if self.destination_ids is None:
            return None
        return [to_id(value, "destinationIds") for value in self.destination_ids]


def to_id(value: str, field: str) -> int:
    """An ID argument as a number; Invalid otherwise."""
    text = str(value)
    if not text.isdigit() or len(text) > 18:
        raise Invalid(f"{field}: not an id")
    return int(text)
