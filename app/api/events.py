"""`/api/v1/events`: log one event, a batch, and feedback, answered ahead of the app's router.

These three routes take nearly all of a server's traffic, and per request the framework cost
more than the work. Through FastAPI's per-route machinery (dependency solving, route context)
they cost ~50 µs more per request (bench/ingest: 0.61x -> 0.75x of the reference at 16
connections). As plain Starlette routes they still went through the exception middleware,
the router, `Request` and `Response`: 30-70 µs of CPU per single-event request more than now
(bench/metrics' single-event bodies at 16 connections, two runs: 1.13x and 1.24x the events/s).

So `IngestRoutes`, an ASGI middleware, answers them itself: match the path, authenticate, read
the body, call the service, send the JSON. Every other request passes through to the app. A
PhosphoError is answered here with the body every route gives it (`app/api/errors.py`); any
other exception propagates to the app's outer error middleware, which logs it and answers 500
as for every route. `BodyLimitMiddleware` wraps this one, so body limits hold here too. The
routes' OpenAPI description is in `app/api/openapi.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.datastructures import URL
from starlette.responses import RedirectResponse

from app.api.errors import error_body, phospho_error_parts
from app.api.responses import event_body, feedback_body
from app.errors import PhosphoError
from app.limits import ASGIApp, Receive, Scope, Send
from app.request_context import ROUTE_KEY, note_project
from app.services.ingest import Ingestor
from app.services.keys import KeyCache, Principal, authenticate
from app.services.ratelimit import KeyRateLimiter
from app.services.validation import parse_json

EVENTS = "/api/v1/events"
BATCH = "/api/v1/events/batch"
FEEDBACK_SUFFIX = "/feedback"
FEEDBACK_ROUTE = EVENTS + "/{event_id}" + FEEDBACK_SUFFIX  # the template (metrics, logs)
JSON_TYPE = (b"content-type", b"application/json")

# (ingestor, principal, parsed body, event id from the path) -> (status, JSON-able answer)
Handler = Callable[[Ingestor, Principal, Any, str], Awaitable[tuple[int, Any]]]


async def log_event(ingestor: Ingestor, principal: Principal, body: Any, _: str) -> tuple[int, Any]:
    """Store one event; 201 once it is durably committed, 200 for a retry of a stored event_id."""
    result = await ingestor.log_event(principal, body)
    token = ingestor.feedback_tokens.sign(principal, result.event_id, result.created_at)
    return (200 if result.duplicate else 201), event_body(result, token)


async def log_events(
    ingestor: Ingestor, principal: Principal, body: Any, _: str
) -> tuple[int, Any]:
    """Store a batch all-or-nothing; results come back in input order."""
    results = await ingestor.log_events(principal, body)
    sign = ingestor.feedback_tokens.sign
    return 201, {
        "results": [event_body(r, sign(principal, r.event_id, r.created_at)) for r in results]
    }


async def add_feedback(
    ingestor: Ingestor, principal: Principal, body: Any, event_id: str
) -> tuple[int, Any]:
    """Attach a thumbs up (1) or down (0) to one of the project's events."""
    return 201, feedback_body(await ingestor.add_feedback(principal, event_id, body))


# Each handler's route template, as the metrics and the access log name it.
TEMPLATES: dict[Handler, str] = {log_event: EVENTS, log_events: BATCH, add_feedback: FEEDBACK_ROUTE}


def match(path: str) -> tuple[Handler, str] | None:
    """The handler for a route path and the event id in it; None for any other path. The id
    is one non-empty path segment, as Starlette's `{event_id}` would match it."""
    if path == EVENTS:
        return log_event, ""
    if path == BATCH:
        return log_events, ""
    if path.startswith(EVENTS + "/") and path.endswith(FEEDBACK_SUFFIX):
        event_id = path[len(EVENTS) + 1 : -len(FEEDBACK_SUFFIX)]
        if event_id and "/" not in event_id:
            return add_feedback, event_id
    return None


class IngestRoutes:
    """Serve the ingest routes before the app (see the module's docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        ingestor: Ingestor,
        keys: KeyCache,
        limiter: KeyRateLimiter | None = None,
    ) -> None:
        self.app = app
        self.ingestor = ingestor
        self.keys = keys  # the app's remembered key lookups
        self.limiter = limiter  # per-key rate limit, checked before the body is read

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = match(route_path(scope)) if scope["type"] == "http" else None
        if route is None:
            if scope["type"] == "http" and await _redirect_slash(scope, receive, send):
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            body = error_body("Method Not Allowed", "http_error")
            await _send_json(send, 405, body, [(b"allow", b"POST")])
            return
        handler, event_id = route
        scope[ROUTE_KEY] = TEMPLATES[handler]
        headers: list[tuple[bytes, bytes]] = []
        try:
            principal = await authenticate(authorization(scope), cache=self.keys)
            note_project(scope, principal.project_id)
            if self.limiter is not None:
                await self.limiter.check(principal.key_id)
            raw = await _read_body(receive)
            if raw is None:  # the client went away before sending all of it: nothing stored
                return
            status, answer = await handler(self.ingestor, principal, parse_json(raw), event_id)
        except PhosphoError as exc:
            status, answer, extra = phospho_error_parts(exc)
            headers = [(name.lower().encode(), value.encode()) for name, value in extra.items()]
        await _send_json(send, status, answer, headers)


def route_path(scope: Scope) -> str:
    """The path without the app's root path (as Starlette's router matches it; the OTLP
    routes match theirs the same way)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root + "/") else path


async def _redirect_slash(scope: Scope, receive: Receive, send: Send) -> bool:
    """`/api/v1/events/` answers 307 to `/api/v1/events`, as the router does for its routes."""
    path: str = scope["path"]
    if not path.endswith("/") or match(route_path(scope).rstrip("/")) is None:
        return False
    url = URL(scope={**scope, "path": path.rstrip("/")})
    await RedirectResponse(str(url))(scope, receive, send)
    return True


def authorization(scope: Scope) -> str | None:
    """The Authorization header's value (also read by the OTLP routes, otlp.py)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value).decode("latin-1")
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None if the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send_json(
    send: Send, status: int, answer: Any, headers: list[tuple[bytes, bytes]]
) -> None:
    body = orjson.dumps(answer)
    headers += [(b"content-length", str(len(body)).encode()), JSON_TYPE]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
