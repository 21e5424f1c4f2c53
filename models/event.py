"""Events: one logged LLM interaction, with recognised metadata lifted into typed columns, and
its tags."""

from tortoise import fields
from tortoise.models import Model

from models.project import Project


class Event(Model):
    """An LLM interaction. `id` is a time-ordered UUID (v7) unless the client sent its own."""

    id = fields.UUIDField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="events", on_delete=fields.CASCADE
    )
    session_key = fields.CharField(max_length=256)
    user_id = fields.CharField(max_length=256, null=True)
    input = fields.TextField()
    output = fields.TextField()
    # The metadata object exactly as the client sent it (recognised keys included).
    metadata: fields.Field[dict[str, object] | None] = fields.JSONField(null=True)
    # Recognised metadata, typed so that filters and charts never read JSON.
    model = fields.CharField(max_length=256, null=True)
    tokens_in = fields.BigIntField(null=True)
    tokens_out = fields.BigIntField(null=True)
    latency_ms = fields.FloatField(null=True)
    # Estimated (or client-given `cost_usd`) cost in nano-dollars; NULL when unpriced.
    cost_nano = fields.BigIntField(null=True)
    # "ok" or "error"; NULL when the client did not say (unknown). `error` is the error text.
    status = fields.CharField(max_length=8, null=True)
    error = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    # The score of the event's current (latest) feedback, NULL without feedback: kept by the
    # feedback commit (`store.set_feedback_scores`) so that a feedback filter reads an index
    # instead of looking up each event's latest feedback (issue 24).
    feedback_score = fields.SmallIntField(null=True)

    class Meta:
        table = "events"
        # Each list index ends with `id`, the lists' tie-break (created_at DESC, id DESC): the
        # events of one group commit share their time (thousands under batch ingest), and an
        # index without `id` makes a page sort the whole tie group (bench/dashboard, 1M events).
        # An end user's feedback counts (the users list and an end user's page) are read along
        # a partial index of the events that have feedback, (project, user_id,
        # feedback_score) WHERE feedback_score IS NOT NULL: hand-written in migration 16 (a
        # model cannot declare it), so an event logged without feedback adds nothing to it.
        indexes = (
            ("project", "created_at", "id"),
            ("project", "session_key", "created_at", "id"),
            ("project", "user_id", "created_at", "id"),
            ("project", "model", "created_at", "id"),
            ("project", "status", "created_at", "id"),
            ("project", "feedback_score", "created_at", "id"),
        )


class EventTag(Model):
    """One tag of one event, in a table of its own so that a tag filter is an index lookup
    (project, tag, created_at) rather than a scan of JSON. `id` keeps the client's order."""

    id = fields.BigIntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="tags", on_delete=fields.CASCADE
    )
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="event_tags", on_delete=fields.CASCADE
    )
    tag = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()  # the event's, so the tag index reads newest first

    class Meta:
        table = "event_tags"
        unique_together = (("event", "tag"),)
        indexes = (("project", "tag", "created_at"),)
