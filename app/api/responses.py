"""JSON responses of the REST API, serialised with orjson."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Response

from app.services.ingest import EventResult, FeedbackResult


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, microseconds always present (so retries answer identically).

    The last one is remembered by identity: a group commit stamps all its events with one
    datetime object, so a batch's answer (and a group's single events) format it once, not
    ~1.5 µs an event. Holding the object keeps its id from being reused."""
    global _last_iso
    last = _last_iso
    if last[0] is value:
        return last[1]
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    _last_iso = (value, text)
    return text


_last_iso: tuple[datetime | None, str] = (None, "")


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response."""
    return Response(orjson.dumps(body), status_code, headers, media_type="application/json")


def event_body(result: EventResult, feedback_token: str) -> dict[str, str]:
    """The documented response for a logged event, with its feedback token."""
    return {
        "event_id": str(result.event_id),
        "session_id": result.session_id,
        "created_at": iso_utc(result.created_at),
        "feedback_token": feedback_token,
    }


def feedback_body(result: FeedbackResult) -> dict[str, Any]:
    """The response for stored feedback."""
    return {
        "feedback_id": str(result.feedback_id),
        "event_id": str(result.event_id),
        "score": result.score,
        "comment": result.comment,
        "created_at": iso_utc(result.created_at),
    }
