"""The OpenAPI document (`/openapi.json`): what every route accepts and every answer it can give.

FastAPI describes only what passes through its router, and not exactly: the ingest routes are
answered ahead of it (events.py), their rules partly live outside the pydantic models (NUL
characters, nesting depth, the typed metadata keys; app/services/validation.py), the body
limit, admission control and authentication answer before any route, and Strawberry's
`/graphql` routes describe GraphiQL as JSON. So this module writes those operations by hand,
from the same constants the server enforces. tests/reliability/test_openapi_fuzz.py runs
schemathesis with every check over this document against a real server: a rule or an answer
missing here, or one the server does not keep, fails it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.api.openapi_erasure import ERASURE_SCHEMAS, erasure_paths
from app.api.openapi_export import export_paths
from app.api.openapi_feedback import FEEDBACK_TOKEN_SCHEMAS, feedback_token_paths
from app.api.openapi_otlp import OTLP_SCHEMAS, otlp_paths
from app.api.openapi_schemas import (
    EXAMPLES,
    JSON,
    PLAIN_TEXT,
    SCHEMAS,
    SECURITY_SCHEMES,
    ref,
)
from app.services.validation import MAX_BATCH

CONVENTIONS = (
    "Authenticate with `Authorization: Bearer ph_…` (an API key; it decides the project). "
    "Errors are JSON (`Error`) except GraphQL's transport errors (text). On every path, a "
    "method the path does not list answers 405 with `Allow`, and the path with a trailing "
    "slash answers 307 to the path without it. GraphQL subscriptions run over WebSocket at "
    "`/graphql` (`graphql-transport-ws`). OpenTelemetry exporters send to `/v1/traces` "
    "(OTLP/HTTP), whose errors are OTLP's `google.rpc.Status` in the request's encoding."
)
RETRY_AFTER = {
    "description": "Seconds after which a retry can succeed",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}
API_KEY: list[dict[str, list[str]]] = [{"bearer": []}]
API_KEY_OR_LOGIN: list[dict[str, list[str]]] = [{"bearer": []}, {"login": []}]


def _json(schema_name: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref(schema_name)}}, **extra}


def _error(description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    answer = _json("Error", description)
    if headers:
        answer["headers"] = {name.replace("_", "-"): value for name, value in headers.items()}
    return answer


def _guarded(max_body: str) -> dict[str, Any]:
    """The answers that come from before the route: body limit, authentication, admission."""
    return {
        "408": _error(
            "The request's headers or body did not arrive in time (PHOSPHO_HEADER_TIMEOUT, "
            "PHOSPHO_BODY_TIMEOUT): nothing was done, and the connection is closed"
        ),
        "401": _error(
            "Missing, malformed, unknown or revoked API key (or login, where one is accepted)",
            WWW_Authenticate={"required": True, "schema": {"type": "string", "const": "Bearer"}},
        ),
        "413": _error(f"The body is larger than {max_body}"),
        "429": _error(
            "Too many requests for this key; retry after `Retry-After`", Retry_After=RETRY_AFTER
        ),
        "503": _error(
            "Overloaded or briefly unavailable, nothing was done: retry after `Retry-After`",
            Retry_After=RETRY_AFTER,
        ),
    }


def _ingest(
    operation_id: str,
    summary: str,
    body: str,
    answers: dict[str, Any],
    max_body: str,
    parameters: list[Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": ["events"],
        "summary": summary,
        "operationId": operation_id,
        "security": API_KEY,
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": ref(body), "example": EXAMPLES[body]}},
        },
        "responses": {
            **answers,
            "400": _error("The body is empty or not JSON"),
            "422": _error(
                "A field breaks a rule; `errors[].loc` names it (this includes JSON values no "
                "write may hold: NaN, Infinity, a lone surrogate such as \\ud800, a NUL "
                "character, an integer beyond 64 bits, nesting deeper than 32 levels)"
            ),
            **_guarded(max_body),
        },
    }
    if parameters:
        operation["parameters"] = parameters
    return {"post": operation}


def _feedback_link(pointer: str) -> dict[str, Any]:
    return {
        "AddFeedback": {
            "operationId": "add_feedback",
            "parameters": {"event_id": f"$response.body#{pointer}"},
        }
    }


def ingest_paths(max_body: str, max_batch_body: str) -> dict[str, Any]:
    """The three ingest routes (answered ahead of the router, app/api/events.py)."""
    event_id = {
        "name": "event_id",
        "in": "path",
        "required": True,
        "description": "The event's id; an id that names no event of this project gets 404",
        "schema": {"type": "string"},
    }
    link = _feedback_link("/event_id")
    stored = _json("EventResult", "Stored (durably committed)", links=link)
    retry = _json(
        "EventResult", "A stored event_id again: its first answer; nothing new", links=link
    )
    conflict = _error("An event_id already used by another project")
    return {
        "/api/v1/events": _ingest(
            "log_event",
            "Log an event",
            "LogEventInput",
            {"201": stored, "200": retry, "409": conflict},
            max_body,
        ),
        "/api/v1/events/batch": _ingest(
            "log_events",
            f"Log up to {MAX_BATCH} events at once (all or nothing)",
            "LogEventsInput",
            {
                "201": _json(
                    "BatchResult",
                    "Every event stored, results in input order",
                    links=_feedback_link("/results/0/event_id"),
                ),
                "409": conflict,
            },
            max_batch_body,
        ),
        "/api/v1/events/{event_id}/feedback": _ingest(
            "add_feedback",
            "Add feedback to an event",
            "FeedbackInput",
            {
                "201": _json("FeedbackResult", "Stored"),
                "404": _error("No such event in this project"),
            },
            max_body,
            [event_id],
        ),
    }


def graphql_paths(max_body: str) -> dict[str, Any]:
    """`/graphql` over HTTP (subscriptions use WebSocket, `graphql-transport-ws`)."""
    guarded = _guarded(max_body)
    post = {
        "tags": ["graphql"],
        "summary": "Run a GraphQL query or mutation",
        "description": (
            "An API key runs every operation on its project. The dashboard's login cookie (the "
            "dashboard's GraphQL page, `/graphiql`) needs this server's `Origin` and the login "
            "session's CSRF token in `X-CSRF-Token`; it reads the user's current project (or "
            "another of theirs named by `X-Phospho-Project` or `?project=`) and runs the "
            "mutations the user's role allows (owners: alerts, erasure; logging needs a key). "
            "Errors of the operation itself come back in `errors` with status 200. The schema "
            "is `graphql/schema.graphql`."
        ),
        "operationId": "graphql",
        "security": API_KEY_OR_LOGIN,
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": ref("GraphQLRequest"), "example": EXAMPLES["GraphQLRequest"]}
            },
        },
        "responses": {
            "200": _json("GraphQLResponse", "The operation ran, or failed with `errors`"),
            "400": _graphql_bad_request(),
            "422": _error(
                "A value in the body breaks the JSON contract of writes (NaN, Infinity, a "
                "lone surrogate, a NUL character, an integer beyond 64 bits, too deep)"
            ),
            "403": _error(
                "The login cookie without this server's Origin and the session's CSRF token "
                "(`X-CSRF-Token`)"
            ),
            **guarded,
        },
    }
    get = {
        "tags": ["graphql"],
        "summary": "GraphiQL, the in-browser GraphQL IDE: a redirect to the dashboard's page",
        "description": (
            "A browser (a client that accepts text/html) is sent to `/graphiql`, the "
            "dashboard's GraphQL page (vendored GraphiQL, signed in with the login). Queries "
            "over GET are refused: send them with POST."
        ),
        "operationId": "graphiql",
        "security": [{}, *API_KEY],
        "responses": {
            "303": {
                "description": "To the dashboard's GraphQL page (no credentials needed)",
                "headers": {
                    "Location": {
                        "required": True,
                        "schema": {"type": "string", "const": "/graphiql"},
                    }
                },
            },
            "400": {
                "description": "The client does not accept text/html, or sent a query over GET",
                "content": {PLAIN_TEXT: {"schema": {"type": "string"}}},
            },
            **{code: guarded[code] for code in ("408", "401", "429", "503")},
        },
    }
    return {"/graphql": {"get": get, "post": post}}


def _graphql_bad_request() -> dict[str, Any]:
    return {
        "description": (
            "Not a GraphQL request the server can run: a body that is not a JSON object (a "
            "batch, an array, is refused too), no query, `variables` or `extensions` not an "
            "object, an `operationName` the query does not define, a Content-Type other than "
            "application/json: plain text from the GraphQL transport, or the REST error body "
            "when the body is not JSON or not an object"
        ),
        "content": {
            PLAIN_TEXT: {"schema": {"type": "string"}},
            JSON: {"schema": ref("Error")},
        },
    }


def _bytes(count: int) -> str:
    return f"{count:,} bytes" if count % (1024 * 1024) else f"{count // (1024 * 1024)} MiB"


def document_ingest_routes(app: FastAPI) -> None:
    """Make `app.openapi()` describe every API route exactly (see the module's docstring)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        settings = app.state.settings
        schema = generate()
        schema["info"]["description"] = CONVENTIONS
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(SCHEMAS)
        components["schemas"].update(OTLP_SCHEMAS)
        components["schemas"].update(ERASURE_SCHEMAS)
        components["schemas"].update(FEEDBACK_TOKEN_SCHEMAS)
        components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
        paths = schema.setdefault("paths", {})
        max_body = _bytes(settings.max_body_bytes)
        paths.update(ingest_paths(max_body, _bytes(settings.max_batch_body_bytes)))
        paths.update(graphql_paths(max_body))
        paths.update(export_paths(_guarded(max_body)))
        max_batch_body = _bytes(settings.max_batch_body_bytes)
        paths.update(otlp_paths(max_batch_body, _guarded(max_batch_body)))
        paths.update(erasure_paths(_guarded(max_body)))
        paths.update(feedback_token_paths(_guarded(max_body), RETRY_AFTER))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
