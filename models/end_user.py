"""End users of a project's application (its `user_id`s), with counters kept at ingest."""

from tortoise import fields
from tortoise.models import Model

from models.project import Project


class EndUser(Model):
    """One end user. Maintained by the ingest transaction so lists never aggregate events."""

    id = fields.IntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="end_users", on_delete=fields.CASCADE
    )
    user_id = fields.CharField(max_length=256)
    first_seen = fields.DatetimeField()
    last_seen = fields.DatetimeField()
    event_count = fields.IntField(default=0)
    # SQLite: the user's rollup counts of one hour (`hour_bucket`, UTC epoch seconds), added by
    # every commit here (a row it writes anyway) rather than in `user_rollups`, until the hour
    # is folded there (app/services/rollups/). Unused (0) on PostgreSQL. Not indexed (every
    # commit would rewrite the entry): `last_seen` is never before `hour_bucket`, so ranges of
    # hours are read through the last_seen index.
    hour_bucket = fields.BigIntField(default=0)
    hour_events = fields.BigIntField(default=0)
    hour_cost_nano = fields.BigIntField(default=0)
    hour_unpriced = fields.BigIntField(default=0)

    class Meta:
        table = "end_users"
        unique_together = (("project", "user_id"),)
        indexes = (("project", "last_seen"),)
