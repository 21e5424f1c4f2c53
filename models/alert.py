"""Alerts: a project's rules over its metrics, where their messages go, what happened and what
was delivered. See `app/services/alerts/`.

A rule's `state` is claimed by one conditional UPDATE (`... WHERE state = <the state read>`),
so with several server processes on one database exactly one of them records each state
change and sends its messages (`app/services/alerts/store.py`).
"""

from tortoise import fields
from tortoise.models import Model

from models.project import Project


class AlertDestination(Model):
    """Where a project's alert messages go: a generic webhook (signed JSON) or a
    Slack-compatible incoming webhook (`{"text": …}`)."""

    id = fields.IntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="alert_destinations", on_delete=fields.CASCADE
    )
    project_id: int
    name = fields.CharField(max_length=128)
    kind = fields.CharField(max_length=16)  # "webhook" or "slack"
    url = fields.CharField(max_length=2048)
    # Kept in clear: the server signs every message with it (HMAC-SHA256). Shown to the owner
    # once, when the destination is created.
    secret = fields.CharField(max_length=128)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_success_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)  # of the last delivery that failed for good
    last_error_at = fields.DatetimeField(null=True)

    class Meta:
        table = "alert_destinations"


class AlertRule(Model):
    """A condition on one metric of a project over a trailing window, and its state."""

    id = fields.IntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="alert_rules", on_delete=fields.CASCADE
    )
    project_id: int
    name = fields.CharField(max_length=128)
    metric = fields.CharField(max_length=32)  # app/services/alerts/rules.py `Metric`
    model = fields.CharField(max_length=256, null=True)  # only this model's events
    window_seconds = fields.IntField()  # 300, 3600 or 86400
    comparison = fields.CharField(max_length=8)  # "gt", "gte", "lt", "lte"
    threshold = fields.FloatField()
    enabled = fields.BooleanField(default=True)
    state = fields.CharField(max_length=16, default="ok")  # "ok", "firing", "resolved"
    state_changed_at = fields.DatetimeField(null=True)
    last_value = fields.FloatField(null=True)
    last_evaluated_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "alert_rules"


class AlertRuleDestination(Model):
    """A destination a rule sends its messages to."""

    id = fields.IntField(primary_key=True)
    rule: fields.ForeignKeyRelation[AlertRule] = fields.ForeignKeyField(
        "models.AlertRule", related_name="targets", on_delete=fields.CASCADE
    )
    rule_id: int
    destination: fields.ForeignKeyRelation[AlertDestination] = fields.ForeignKeyField(
        "models.AlertDestination", related_name="rules", on_delete=fields.CASCADE
    )
    destination_id: int

    class Meta:
        table = "alert_rule_destinations"
        unique_together = (("rule", "destination"),)


class AlertEvent(Model):
    """One state change of a rule ("firing", "resolved"), or a test message ("test", no rule):
    the alert history."""

    id = fields.BigIntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="alert_events", on_delete=fields.CASCADE
    )
    project_id: int
    rule: fields.ForeignKeyNullableRelation[AlertRule] = fields.ForeignKeyField(
        "models.AlertRule", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    rule_id: int | None
    rule_name = fields.CharField(max_length=128)  # kept when the rule is deleted
    kind = fields.CharField(max_length=16)
    value = fields.FloatField(null=True)
    threshold = fields.FloatField(null=True)
    message = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "alert_events"
        indexes = (("project", "id"),)


class AlertDelivery(Model):
    """One message of an alert event to one destination: its attempts, outcome and last error.
    A process claims it for `lease_until` (a crashed process's pending delivery is taken over
    once the lease has passed)."""

    id = fields.BigIntField(primary_key=True)
    event: fields.ForeignKeyRelation[AlertEvent] = fields.ForeignKeyField(
        "models.AlertEvent", related_name="deliveries", on_delete=fields.CASCADE
    )
    event_id: int
    destination: fields.ForeignKeyNullableRelation[AlertDestination] = fields.ForeignKeyField(
        "models.AlertDestination", related_name="deliveries", null=True,
        on_delete=fields.SET_NULL,
    )  # fmt: skip
    destination_id: int | None
    status = fields.CharField(max_length=16, default="pending")  # "delivered", "failed"
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)
    lease_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "alert_deliveries"
        indexes = (("status", "lease_until"),)
