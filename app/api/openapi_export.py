"""The OpenAPI description of `GET /api/v1/events/export` (app/api/export.py), written by hand
like the ingest routes' (app/api/openapi.py): its parameters carry the rules the filters
enforce (app/services/event_filters.py), its answers the streamed media types."""

from __future__ import annotations

from typing import Any

from app.api.openapi_schemas import JSON, ref, text
from app.services.event_fields import MAX_TAG_LENGTH, STATUSES
from app.services.event_filters import FEEDBACK_STATES
from app.services.export import FORMATS, MEDIA_TYPES

TEXT_LENGTH = 256  # the query parameters' bound (app/api/export.py's `Text`)
DESCRIPTION = (
    "The key's project's events matching the filters, oldest first (keyset order on "
    "created_at, then id), streamed as they are read: JSON Lines (`application/x-ndjson`, one "
    "object per line, keys: event_id, created_at, session_id, user_id, input, output, "
    "metadata, model, tokens_in, tokens_out, latency_ms, cost_usd, status, error, tags, "
    "feedback_score, feedback_comment) or CSV (`text/csv`, a header row of the same names, "
    "metadata and tags as JSON text, cells verbatim). The feedback is each event's latest. "
    "Events stored after the export began are left out. Every parameter is optional and an "
    "empty one is no filter; the filters are the dashboard's events list's. A line without "
    "event_id, created_at, model, tokens_in, tokens_out, latency_ms, cost_usd and the "
    "feedback fields is a valid event for `POST /api/v1/events/batch`."
)


def _parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}  # fmt: skip


def _choice(values: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "string", "enum": ["", *values]}


def _parameters() -> list[dict[str, Any]]:
    identifier = text(maxLength=TEXT_LENGTH)
    time = {"type": "string", "anyOf": [{"format": "date-time"}, {"maxLength": 0}]}
    return [
        _parameter("format", _choice(FORMATS), "jsonl (the default) or csv"),
        _parameter("session_id", identifier, "Only this session's events"),
        _parameter("user_id", identifier, "Only this end user's events"),
        _parameter("model", identifier, "Only this model's events"),
        _parameter("feedback", _choice(FEEDBACK_STATES), "The latest feedback, or none"),
        _parameter("q", identifier, "Text in the input or output, case-insensitive"),
        _parameter("since", time, "From this time on (inclusive; UTC unless a zone is given)"),
        _parameter("until", time, "Before this time (exclusive); not before `since`"),
        _parameter("tag", text(maxLength=MAX_TAG_LENGTH), "Only events with this tag"),
        _parameter("status", _choice(STATUSES), "Only events with this status"),
    ]


def export_paths(guarded: dict[str, Any]) -> dict[str, Any]:
    """The export route's path item; `guarded`: the answers given before any route."""
    disposition = {
        "description": 'attachment; filename="phospho-events-<UTC time>.<format>"',
        "required": True,
        "schema": {"type": "string"},
    }
    stream = {"schema": {"type": "string"}}
    operation = {
        "tags": ["events"],
        "summary": "Export events as JSON Lines or CSV",
        "description": DESCRIPTION,
        "operationId": "export_events",
        "security": [{"bearer": []}],
        "parameters": _parameters(),
        "responses": {
            "200": {
                "description": "The file, streamed",
                "headers": {"Content-Disposition": disposition},
                "content": {media: stream for media in MEDIA_TYPES.values()},
            },
            "422": {
                "description": "A parameter breaks a rule (unknown format, feedback or status, "
                "a time that is not ISO 8601, since after until, a NUL character, too long)",
                "content": {JSON: {"schema": ref("Error")}},
            },
            **{code: guarded[code] for code in ("408", "401", "429", "503")},
        },
    }
    return {"/api/v1/events/export": {"get": operation}}
