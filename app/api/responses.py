"""JSON responses of the REST API, serialised with orjson."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Response

from app.services.ingest import EventResult, FeedbackResult


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, microseconds always present (so retries answer identically)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


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
