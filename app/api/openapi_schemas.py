"""JSON Schemas of the OpenAPI document: request bodies with every rule, and every answer's body.

Written by hand rather than generated from the pydantic models, because several rules are
enforced outside them (app/services/validation.py): no NUL character in any string or key,
nesting depth, the typed metadata keys and their bounds, the UUID spellings pydantic accepts.
Numbers come from the constants the server enforces wherever those exist.
"""

from __future__ import annotations

from typing import Any

from app.services.accounts import SESSION_COOKIE
from app.services.event_fields import MAX_ERROR_LENGTH, MAX_TAG_LENGTH, MAX_TAGS, STATUSES
from app.services.validation import (
    BOUNDS,
    MAX_BATCH,
    MAX_BIGINT,
    MAX_JSON_DEPTH,
    MAX_MODEL_LENGTH,
    MIN_BIGINT,
    RECOGNISED,
)

JSON = "application/json"
PLAIN_TEXT = "text/plain"
REF = "#/components/schemas/{name}"

IDENTIFIER_LENGTH = 256  # session_id, user_id (validation.Identifier)
HEX = "[0-9a-fA-F]"
CANONICAL_UUID = f"{HEX}{{8}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{12}}"


def ref(name: str) -> dict[str, str]:
    """A reference to one of `SCHEMAS`."""
    return {"$ref": REF.format(name=name)}


def closed(
    required: list[str], properties: dict[str, Any], description: str | None = None
) -> dict[str, Any]:
    """An object with exactly these `properties` (the `required` ones at least)."""
    described = {"description": description} if description else {}
    return {
        "type": "object",
        **described,
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def text(**rules: Any) -> dict[str, Any]:
    """A string without NUL characters (PostgreSQL cannot store them; refused everywhere)."""
    return {"type": "string", "pattern": "^[^\\u0000]*$", **rules}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def _uuid(description: str) -> dict[str, Any]:
    # pydantic also takes the 32-digit, braced and urn:uuid: spellings (answers use the first).
    return {
        "type": "string",
        "description": description,
        "anyOf": [
            {"format": "uuid"},
            {"pattern": f"^{HEX}{{32}}$"},
            {"pattern": f"^\\{{{CANONICAL_UUID}\\}}$"},
            {"pattern": f"^urn:uuid:{CANONICAL_UUID}$"},
        ],
    }


def _metadata() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "model": nullable(text(maxLength=MAX_MODEL_LENGTH, description="Model name")),
    }
    exclusive = []
    for snake, camel in RECOGNISED:
        integer, maximum = BOUNDS[snake]
        kind = "integer" if integer else "number"
        rule = nullable({"type": kind, "minimum": 0, "maximum": maximum})
        properties[snake] = properties[camel] = rule
        exclusive.append({"not": {"required": [snake, camel]}})
    return {
        "type": "object",
        "description": (
            "Any JSON object, kept verbatim. The recognised keys are also stored in typed "
            "columns; give each in one spelling only (snake_case or camelCase). Integers may be "
            f"written as integral numbers (1.0). Nesting deeper than {MAX_JSON_DEPTH} levels "
            "(counting from the body) is refused."
        ),
        "propertyNames": text(),
        "properties": properties,
        "additionalProperties": ref("JsonValue"),
        "allOf": exclusive,
    }


def _event_input() -> dict[str, Any]:
    identifier = text(minLength=1, maxLength=IDENTIFIER_LENGTH)
    properties = {
        "input": text(),
        "output": text(),
        "session_id": nullable({**identifier, "description": "Groups events into a session"}),
        "user_id": nullable(identifier),
        "metadata": nullable(ref("Metadata")),
        "event_id": nullable(_uuid("Your own id, for safe retries")),
        "tags": nullable({
            "type": "array", "maxItems": MAX_TAGS,
            "items": text(minLength=1, maxLength=MAX_TAG_LENGTH),
            "description": "Labels to filter by; repeats are dropped (the first kept)",
        }),
        "status": nullable({
            "enum": list(STATUSES), "description": "Whether the call succeeded; absent: unknown"
        }),
        "error": nullable(text(
            maxLength=MAX_ERROR_LENGTH,
            description='What went wrong; without a status, the status is "error"',
        )),
    }  # fmt: skip
    schema = closed(["input", "output"], properties, "One event as a client sends it.")
    # An error beside `status: "ok"` contradicts itself (event_fields.no_error_when_ok).
    ok_with_error = {"status": {"const": "ok"}, "error": {"type": "string"}}
    schema["not"] = {"required": ["status", "error"], "properties": ok_with_error}
    return schema


def _event_result() -> dict[str, Any]:
    properties = {
        "event_id": {"type": "string", "format": "uuid"},
        "session_id": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "feedback_token": {
            "type": "string",
            "description": "Lets whoever holds it rate this event with POST /api/v1/feedback, "
            "without an API key, until it expires (hand it to your web page)",
        },
    }
    return closed(["event_id", "session_id", "created_at", "feedback_token"], properties)


def _error() -> dict[str, Any]:
    located = {
        "type": "object",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
    }
    properties = {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "array", "items": located},
    }
    return closed(
        ["detail", "code"], properties, "`detail` says what to fix; `errors` locates each problem."
    )


def _graphql() -> dict[str, Any]:
    any_object = {"type": "object"}
    json_object = {
        "type": "object",
        "propertyNames": text(),
        "additionalProperties": ref("JsonValue"),
    }
    error = {
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"type": "string"},
            "locations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"line": {"type": "integer"}, "column": {"type": "integer"}},
                },
            },
            "path": {"type": "array", "items": {"type": ["string", "integer"]}},
            "extensions": any_object,
        },
    }
    return {
        # The body is read under the write path's JSON contract (no NUL, integers within 64
        # bits…) wherever its values are, unknown members included.
        "GraphQLRequest": {
            "type": "object",
            "required": ["query"],
            "propertyNames": text(),
            "additionalProperties": ref("JsonValue"),
            "properties": {
                "query": text(minLength=1),
                "variables": nullable(json_object),
                "operationName": nullable(text(description="Names one of the query's operations")),
                "extensions": nullable(json_object),
            },
        },
        "GraphQLResponse": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "data": nullable(any_object),
                "errors": {"type": "array", "items": error},
                "extensions": any_object,
            },
        },
    }


SCHEMAS: dict[str, Any] = {
    "JsonValue": {
        "description": (
            "Any JSON value whose strings and keys contain no NUL character and whose numbers "
            "lie within 64-bit integers' range, however written (1e19 is refused too)"
        ),
        "anyOf": [
            {"type": ["null", "boolean"]},
            {"type": "integer", "minimum": MIN_BIGINT, "maximum": MAX_BIGINT},
            {"type": "number", "not": {"type": "integer"}},
            text(),
            {"type": "array", "items": ref("JsonValue")},
            {"type": "object", "propertyNames": text(), "additionalProperties": ref("JsonValue")},
        ],
    },
    "Metadata": _metadata(),
    "LogEventInput": _event_input(),
    "LogEventsInput": closed(
        ["events"],
        {
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH,
                "items": ref("LogEventInput"),
            }
        },
    ),
    "FeedbackInput": closed(
        ["score"],
        {"score": {"type": "integer", "minimum": 0, "maximum": 1}, "comment": nullable(text())},
        "Thumbs up (1) or down (0), with an optional comment.",
    ),
    "EventResult": _event_result(),
    "BatchResult": closed(["results"], {"results": {"type": "array", "items": ref("EventResult")}}),
    "FeedbackResult": closed(
        ["feedback_id", "event_id", "score", "comment", "created_at"],
        {
            "feedback_id": {"type": "string", "format": "uuid"},
            "event_id": {"type": "string", "format": "uuid"},
            "score": {"type": "integer", "enum": [0, 1]},
            "comment": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    ),
    "Error": _error(),
    **_graphql(),
}

_EVENT = {
    "input": "What is the capital of France?",
    "output": "Paris.",
    "session_id": "chat-42",
    "metadata": {"model": "gpt-4o-mini", "tokens_in": 12, "tokens_out": 3, "latency_ms": 412.5},
}
# Request bodies shown in the docs (and sent first by the fuzz test's examples phase).
EXAMPLES: dict[str, Any] = {
    "LogEventInput": _EVENT,
    "LogEventsInput": {"events": [_EVENT, {"input": "And of Italy?", "output": "Rome."}]},
    "FeedbackInput": {"score": 1, "comment": "Right answer"},
    "GraphQLRequest": {"query": "query Recent { events(first: 5) { edges { node { id } } } }"},
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An API key: `ph_…`"},
    "login": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The dashboard's login cookie (GraphQL only; same origin)",
    },
}
