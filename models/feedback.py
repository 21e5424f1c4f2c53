"""Feedback: a thumbs up (1) or down (0) on an event; an event's current feedback is its latest."""

from tortoise import fields
from tortoise.models import Model

from models.event import Event
from models.project import Project


class Feedback(Model):
    """One feedback entry. `project` is denormalised so tenant-scoped queries need no join."""

    id = fields.UUIDField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="feedback", on_delete=fields.CASCADE
    )
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="feedback", on_delete=fields.CASCADE
    )
    score = fields.SmallIntField()
    comment = fields.TextField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "feedback"
        indexes = (("project", "created_at"), ("event", "created_at"))
