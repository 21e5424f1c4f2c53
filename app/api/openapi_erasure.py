"""The OpenAPI description of `DELETE /api/v1/users/{user_id}` (app/api/users.py), merged into
the document by app/api/openapi.py; tests/reliability/test_openapi_fuzz.py holds it to the
server."""

from __future__ import annotations

from typing import Any

from app.api.openapi_schemas import JSON, closed, ref, text
from app.services.erasure import MAX_USER_ID, Erasure

_COUNTS = {
    "events": "events of the end user",
    "feedback": "feedback entries on those events",
    "event_tags": "tags of those events",
    "sessions": "sessions left without events",
    "sessions_updated": "sessions that keep other users' events (their counts and user "
    "recomputed: none names the end user any more)",
    "end_users": "the end user's row (1, or 0 when it was already gone)",
    "user_rollups": "the end user's rows of per-user metrics",
}
assert set(_COUNTS) == set(Erasure().as_dict()), "every count is described"

ERASURE_SCHEMAS: dict[str, Any] = {
    "Erasure": closed(
        ["user_id", *_COUNTS],
        {
            "user_id": {"type": "string"},
            **{
                name: {"type": "integer", "minimum": 0, "description": f"Deleted: {what}"}
                for name, what in _COUNTS.items()
            },
        },
        "What the erasure deleted (all zeros when nothing was left: a repeat)",
    )
}


def erasure_paths(guarded: dict[str, Any]) -> dict[str, Any]:
    """The erasure path; `guarded` are the shared answers of app/api/openapi.py."""
    error = {"description": "", "content": {JSON: {"schema": ref("Error")}}}
    user_id = {
        "name": "user_id",
        "in": "path",
        "required": True,
        "description": (
            "The end user's `user_id` as events carry it, percent-encoded (`/` may be sent as "
            "`%2F` or as it is: the rest of the path is the id)"
        ),
        "schema": text(minLength=1, maxLength=MAX_USER_ID),
    }
    delete = {
        "tags": ["users"],
        "summary": "Erase an end user (GDPR): every row of it, and its share of the metrics",
        "description": (
            "Deletes the end user's events with their feedback and tags, its sessions left "
            "without events, its end-user row and per-user metrics, and subtracts exactly its "
            "events, tokens, cost, latencies, errors, sessions and current feedback from the "
            "project's metrics, in one transaction. Idempotent: a repeat answers 200 with "
            "zeros. Only the key's project is touched."
        ),
        "operationId": "delete_end_user",
        "security": [{"bearer": []}],
        "parameters": [user_id],
        "responses": {
            "200": {
                "description": "Erased (durably committed)",
                "content": {JSON: {"schema": ref("Erasure")}},
            },
            "422": {
                **error,
                "description": "user_id is empty, longer than "
                f"{MAX_USER_ID} characters, or contains NUL",
            },
            **guarded,
        },
    }
    return {"/api/v1/users/{user_id}": {"delete": delete}}
