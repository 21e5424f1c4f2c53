"""Sessions: the events of one conversation, keyed by the client's `session_id`."""

from tortoise import fields
from tortoise.models import Model

from models.project import Project


class Session(Model):
    """One conversation. Counters are maintained by the ingest transaction."""

    id = fields.IntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="sessions", on_delete=fields.CASCADE
    )
    # The client's session id (or a generated `sess_…`), unique within a project.
    session_key = fields.CharField(max_length=256)
    user_id = fields.CharField(max_length=256, null=True)
    first_event_at = fields.DatetimeField()  # of the commit that created it; never moves
    last_event_at = fields.DatetimeField()
    event_count = fields.IntField(default=0)

    class Meta:
        table = "sessions"
        unique_together = (("project", "session_key"),)
        indexes = (
            ("project", "last_event_at"),
            ("project", "user_id", "last_event_at"),
        )
