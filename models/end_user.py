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

    class Meta:
        table = "end_users"
        unique_together = (("project", "user_id"),)
        indexes = (("project", "last_seen"),)
