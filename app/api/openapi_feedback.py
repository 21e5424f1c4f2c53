"""The OpenAPI description of `POST /api/v1/feedback` (app/api/feedback_tokens.py), merged into
the document by app/api/openapi.py; tests/reliability/test_openapi_fuzz.py holds it to the
server."""

from __future__ import annotations

from typing import Any

from app.api.openapi_schemas import JSON, closed, nullable, ref, text
from app.services.feedback_tokens import TOKEN_LENGTH

FEEDBACK_TOKEN_SCHEMAS: dict[str, Any] = {
    "TokenFeedbackInput": closed(
        ["token", "score"],
        {
            "token": {
                "type": "string",
                "description": f"The event's `feedback_token` ({TOKEN_LENGTH} characters) from "
                "its log answer",
            },
            "score": {"type": "integer", "minimum": 0, "maximum": 1},
            "comment": nullable(text()),
        },
        "Thumbs up (1) or down (0) on the event a feedback token names, with an optional comment.",
    ),
}
EXAMPLE = {"token": "phf_" + "A" * (TOKEN_LENGTH - 4), "score": 1, "comment": "Helpful"}


def _error(description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": ref("Error")}},
    }
    if headers:
        answer["headers"] = {name.replace("_", "-"): value for name, value in headers.items()}
    return answer


def feedback_token_paths(guarded: dict[str, Any], retry_after: dict[str, Any]) -> dict[str, Any]:
    """The key-less feedback route; `guarded` gives the answers shared by every route (the
    body limit, admission control, timeouts)."""
    operation = {
        "tags": ["events"],
        "summary": "Add feedback with an event's feedback token (no API key; for browsers)",
        "description": (
            "Answers like `POST /api/v1/events/{event_id}/feedback`, as the key that logged the "
            "event. The token rates its one event until it expires and opens no other route. "
            "Pages of the origins listed in `PHOSPHO_CORS_ORIGINS` may call it (CORS, without "
            "credentials); a request with any other `Origin` is refused."
        ),
        "operationId": "add_feedback_by_token",
        "security": [],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": ref("TokenFeedbackInput"), "example": EXAMPLE}},
        },
        "responses": {
            "201": {"description": "Stored", "content": {JSON: {"schema": ref("FeedbackResult")}}},
            "400": _error("The body is empty or not JSON"),
            "401": _error("The token is missing, malformed, tampered with, or expired"),
            "403": _error("The request's `Origin` is not in PHOSPHO_CORS_ORIGINS"),
            "404": _error("The token's event is gone (deleted)"),
            "422": _error("A field breaks a rule; `errors[].loc` names it"),
            "429": _error(
                "Too many requests for this token or from this address; retry after `Retry-After`",
                Retry_After=retry_after,
            ),
            **{code: guarded[code] for code in ("408", "413", "503")},
        },
    }
    return {"/api/v1/feedback": {"post": operation}}
