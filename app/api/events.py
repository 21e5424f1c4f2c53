"""`/api/v1/events`: log one event, a batch, and feedback. Each route: auth, parse, service.

These three are plain Starlette routes inside the FastAPI app: FastAPI's per-route machinery
(dependency solving, route context) cost ~50 µs per request under load, a third of the whole
ingest budget (bench/ingest: 0.61x -> 0.75x of the reference at 16 connections). They take
no parameters FastAPI could validate anyway: bodies are parsed and validated by the services.
Their OpenAPI description is added by `app/api/openapi.py`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.api.responses import event_body, feedback_body, json_response
from app.services.ingest import Ingestor
from app.services.keys import authenticate
from app.services.validation import parse_json


def _ingestor(request: Request) -> Ingestor:
    ingestor: Ingestor = request.app.state.ingestor
    return ingestor


async def log_event(request: Request) -> Response:
    """Store one event; 201 once it is durably committed, 200 for a retry of a stored event_id."""
    principal = await authenticate(request.headers.get("authorization"), allow_cached=True)
    body = parse_json(await request.body())
    result = await _ingestor(request).log_event(principal, body)
    return json_response(event_body(result), 200 if result.duplicate else 201)


async def log_events(request: Request) -> Response:
    """Store a batch all-or-nothing; results come back in input order."""
    principal = await authenticate(request.headers.get("authorization"), allow_cached=True)
    body = parse_json(await request.body())
    results = await _ingestor(request).log_events(principal, body)
    return json_response({"results": [event_body(result) for result in results]}, 201)


async def add_feedback(request: Request) -> Response:
    """Attach a thumbs up (1) or down (0) to one of the project's events."""
    principal = await authenticate(request.headers.get("authorization"), allow_cached=True)
    body = parse_json(await request.body())
    event_id = request.path_params["event_id"]
    result = await _ingestor(request).add_feedback(principal, event_id, body)
    return json_response(feedback_body(result), 201)


routes = [
    Route("/events", log_event, methods=["POST"]),
    Route("/events/batch", log_events, methods=["POST"]),
    Route("/events/{event_id}/feedback", add_feedback, methods=["POST"]),
]
