"""`/api/v1/events`: log one event, a batch, and feedback. Each route: auth, parse, service."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.responses import event_body, feedback_body, json_response
from app.services.ingest import Ingestor
from app.services.keys import authenticate
from app.services.validation import parse_json

router = APIRouter(tags=["events"])


def _ingestor(request: Request) -> Ingestor:
    ingestor: Ingestor = request.app.state.ingestor
    return ingestor


@router.post("/events", status_code=201, summary="Log an event")
async def log_event(request: Request) -> Response:
    """Store one event; 201 once it is durably committed, 200 for a retry of a stored event_id."""
    principal = await authenticate(request.headers.get("authorization"), allow_cached=True)
    body = parse_json(await request.body())
    result = await _ingestor(request).log_event(principal, body)
    return json_response(event_body(result), 200 if result.duplicate else 201)


@router.post("/events/batch", status_code=201, summary="Log up to 1000 events at once")
async def log_events(request: Request) -> Response:
    """Store a batch all-or-nothing; results come back in input order."""
    principal = await authenticate(request.headers.get("authorization"), allow_cached=True)
    body = parse_json(await request.body())
    results = await _ingestor(request).log_events(principal, body)
    return json_response({"results": [event_body(result) for result in results]}, 201)


@router.post("/events/{event_id}/feedback", status_code=201, summary="Add feedback to an event")
async def add_feedback(event_id: str, request: Request) -> Response:
    """Attach a thumbs up (1) or down (0) to one of the project's events."""
    principal = await authenticate(request.headers.get("authorization"), allow_cached=True)
    body = parse_json(await request.body())
    result = await _ingestor(request).add_feedback(principal, event_id, body)
    return json_response(feedback_body(result), 201)
