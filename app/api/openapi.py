"""OpenAPI description of the ingest routes, answered ahead of the app's router (see events.py)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from app.services.validation import FeedbackInput, LogEventInput, LogEventsInput

REF = "#/components/schemas/{model}"
ERRORS = {
    "400": "Malformed JSON",
    "401": "Missing, malformed, unknown or revoked API key",
    "413": "Body over the size limit",
    "422": "A field breaks a rule; `errors[].loc` names it",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _result(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _operation(
    summary: str, body: str, answers: dict[str, Any], parameters: list[Any] | None = None
) -> dict[str, Any]:
    responses = {**answers, **{code: {"description": text} for code, text in ERRORS.items()}}
    operation: dict[str, Any] = {
        "tags": ["events"],
        "summary": summary,
        "security": [{"bearer": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(body)}}},
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    return {"post": operation}


def _paths() -> dict[str, Any]:
    event_id = {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/api/v1/events": _operation(
            "Log an event",
            "LogEventInput",
            {
                "201": _result("EventResult", "Stored (durably committed)"),
                "200": _result("EventResult", "Retry of a stored event_id: the original answer"),
                "409": {"description": "event_id already used by another project"},
            },
        ),
        "/api/v1/events/batch": _operation(
            "Log up to 1000 events at once (all or nothing)",
            "LogEventsInput",
            {"201": _result("BatchResult", "Every event stored, results in input order")},
        ),
        "/api/v1/events/{event_id}/feedback": _operation(
            "Add feedback to an event",
            "FeedbackInput",
            {
                "201": _result("FeedbackResult", "Stored"),
                "404": {"description": "No such event in this project"},
            },
            [event_id],
        ),
    }


RESULT_SCHEMAS: dict[str, Any] = {
    "EventResult": {
        "type": "object",
        "required": ["event_id", "session_id", "created_at"],
        "properties": {
            "event_id": {"type": "string", "format": "uuid"},
            "session_id": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "BatchResult": {
        "type": "object",
        "properties": {"results": {"type": "array", "items": _ref("EventResult")}},
    },
    "FeedbackResult": {
        "type": "object",
        "properties": {
            "feedback_id": {"type": "string", "format": "uuid"},
            "event_id": {"type": "string", "format": "uuid"},
            "score": {"type": "integer", "enum": [0, 1]},
            "comment": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
}


def document_ingest_routes(app: FastAPI) -> None:
    """Make `app.openapi()` include the ingest routes, their bodies and answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        models = [(model, "validation") for model in (LogEventInput, LogEventsInput, FeedbackInput)]
        _, defs = models_json_schema(models, ref_template=REF)  # type: ignore[arg-type]
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update({**defs.get("$defs", {}), **RESULT_SCHEMAS})
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
        }
        schema.setdefault("paths", {}).update(_paths())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
