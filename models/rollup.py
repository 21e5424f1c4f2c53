"""Rollups: per-bucket aggregates kept by the ingest transaction, read by the metrics.

`metric_rollups` holds, per project, level (bucket size in seconds: minute, hour, day), bucket
and model, the counts and sums of the events in that bucket, a logarithmic latency histogram,
feedback counts, the sessions started and the events that failed (status "error").
`user_rollups` holds the same counts per end user, at hour and day level. Buckets are UTC
epoch seconds (multiples of the level). See the package `app/services/rollups/`.
"""

from tortoise import fields
from tortoise.models import Model

from models.project import Project


class MetricRollup(Model):
    """One (project, level, bucket, model) cell; `model` is '' for events without a model."""

    id = fields.BigIntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="metric_rollups", on_delete=fields.CASCADE
    )
    level = fields.IntField()
    bucket = fields.BigIntField()
    model = fields.CharField(max_length=256)
    events = fields.BigIntField(default=0)
    tokens_in = fields.BigIntField(default=0)
    tokens_out = fields.BigIntField(default=0)
    cost_nano = fields.BigIntField(default=0)
    unpriced = fields.BigIntField(default=0)  # events with tokens but no known price
    # The latency histogram (app/services/rollups/histogram.py): on PostgreSQL JSON text
    # {"<bin>": count}, merged by the upsert in SQL; on SQLite the packed binary form, merged by
    # its single writer in memory. '{}' when empty, on both.
    latency_hist = fields.TextField(default="{}")
    feedback_positive = fields.BigIntField(default=0)
    feedback_negative = fields.BigIntField(default=0)
    # Sessions started in the bucket, counted in the cell of the session's first event (the
    # lowest id among the events of the commit that created it).
    sessions = fields.BigIntField(default=0)
    errors = fields.BigIntField(default=0)  # events whose status is "error"

    class Meta:
        table = "metric_rollups"
        unique_together = (("project", "level", "bucket", "model"),)


class UserRollup(Model):
    """One (project, level, bucket, end user) cell."""

    id = fields.BigIntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="user_rollups", on_delete=fields.CASCADE
    )
    level = fields.IntField()
    bucket = fields.BigIntField()
    user_id = fields.CharField(max_length=256)
    events = fields.BigIntField(default=0)
    cost_nano = fields.BigIntField(default=0)
    unpriced = fields.BigIntField(default=0)

    class Meta:
        table = "user_rollups"
        unique_together = (("project", "level", "bucket", "user_id"),)
        # The metrics read each end user's rows of a window as one range of this index,
        # counts included (app/services/metrics.py `_end_users`).
        indexes = (("project", "level", "user_id", "bucket", "events", "cost_nano", "unpriced"),)


class RollupFold(Model):
    """SQLite: how far the fine rollup rows are folded into the coarser levels.

    On SQLite a commit upserts only the minute cells of `metric_rollups`, and keeps each end
    user's counts of the current hour in its `end_users` row; they are folded once the minute
    or hour has passed. Row `level` = 60: every minute row with bucket < `before` is in the
    hour and day rows; `level` = 3600: every end user's hour with `hour_bucket` < `before` is
    in `user_rollups` (hour and day rows). Reads add the minute rows and end users' hours at
    or after `before`. No rows on PostgreSQL, where every commit writes every level.
    """

    level = fields.IntField(primary_key=True)
    before = fields.BigIntField()

    class Meta:
        table = "rollup_folds"
