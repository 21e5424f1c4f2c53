"""`POST /api/v1/feedback`: feedback from a browser, with the event's feedback token instead of
an API key, answered ahead of the router like the ingest routes (app/api/events.py).

The server logs an event with its key and hands the answer's `feedback_token` to its page; the
page posts `{token, score, comment}` here (the JS SDK's `sendFeedback`). The token rates its
one event and opens nothing else: every other route still wants a key. The answer and its
errors are those of the keyed `POST /api/v1/events/{id}/feedback`, through the same
`Ingestor.add_feedback`, as the key that logged the event.

CORS is answered here and nowhere else, by Starlette's `CORSMiddleware` around this route only,
for the origins of `PHOSPHO_CORS_ORIGINS` (no credentials). A request whose `Origin` is not
listed is refused (403) before anything is read: a page could otherwise post a `text/plain`
body, which needs no preflight, and have it stored though the browser hides the answer.
Requests without an Origin (servers, scripts) are served. Rate limits apply per client
address (before the body is read) and per token (after its signature is checked, so forged
tokens cannot fill the limiter's memory), each a `KeyRateLimiter` with a bounded table.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request

from app.api.errors import error_body, phospho_error_parts
from app.api.events import route_path
from app.api.responses import feedback_body, json_response
from app.errors import PhosphoError
from app.instruments import RATE_LIMITED
from app.limits import ASGIApp, Receive, Scope, Send
from app.request_context import ROUTE_KEY, note_project
from app.services.feedback_tokens import FeedbackTokens
from app.services.ingest import Ingestor
from app.services.login_throttle import address_key
from app.services.ratelimit import KeyRateLimiter
from app.services.validation import parse_json, validate_feedback

PATH = "/api/v1/feedback"
# Limiter tables past this many tokens or addresses start afresh: ~600 bytes a bucket
# (tracemalloc), so at most ~12 MB per limiter under a flood of distinct addresses.
MAX_BUCKETS = 20_000
FOREIGN_ORIGIN = (
    "this origin may not send feedback: the server lists the origins it accepts in "
    "PHOSPHO_CORS_ORIGINS"
)


def feedback_limiters(
    per_token: tuple[int, float] | None, per_address: tuple[int, float] | None
) -> tuple[KeyRateLimiter, KeyRateLimiter]:
    """The route's two rate limits (None: off)."""
    return (
        KeyRateLimiter(
            per_token,
            subject="this feedback token",
            counter=RATE_LIMITED.labels("feedback_token"),
            max_buckets=MAX_BUCKETS,
        ),
        KeyRateLimiter(
            per_address,
            subject="feedback from this address",
            counter=RATE_LIMITED.labels("feedback_address"),
            max_buckets=MAX_BUCKETS,
        ),
    )


class TokenFeedbackRoute:
    """Serve `POST /api/v1/feedback` (and its CORS preflight) before the app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        ingestor: Ingestor,
        tokens: FeedbackTokens,
        origins: frozenset[str],
        limiters: tuple[KeyRateLimiter, KeyRateLimiter],
    ) -> None:
        self.app = app
        self.ingestor = ingestor
        self.tokens = tokens
        self.origins = origins
        self.per_token, self.per_address = limiters
        self.cors = CORSMiddleware(
            self._serve,
            allow_origins=sorted(origins),
            allow_methods=["POST"],
            allow_headers=["content-type"],
            expose_headers=["Retry-After", "X-Request-ID"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) != PATH:
            await self.app(scope, receive, send)
            return
        scope[ROUTE_KEY] = PATH
        origin = _header(scope, b"origin")
        preflight = scope["method"] == "OPTIONS" and _header(
            scope, b"access-control-request-method"
        )
        if origin is not None and not preflight and origin not in self.origins:
            await _answer(scope, receive, send, 403, error_body(FOREIGN_ORIGIN, "forbidden"))
            return
        await self.cors(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            body = error_body("Method Not Allowed", "http_error")
            await _answer(scope, receive, send, 405, body, {"Allow": "POST"})
            return
        headers: dict[str, str] = {}
        try:
            client = scope.get("client")
            await self.per_address.check(address_key(client[0] if client else None))
            try:
                raw = await Request(scope, receive).body()
            except ClientDisconnect:  # the client went away before sending all of it
                return
            status, answer = 201, await self._add(scope, parse_json(raw))
        except PhosphoError as exc:
            status, answer, headers = phospho_error_parts(exc)
            headers.pop("WWW-Authenticate", None)  # a token is not a bearer credential
        await _answer(scope, receive, send, status, answer, headers)

    async def _add(self, scope: Scope, body: Any) -> dict[str, Any]:
        """Check the token, then store the feedback as the key that logged the event."""
        if not isinstance(body, dict):
            validate_feedback(body)  # raises the keyed route's 422 for a body that is no object
        grant = self.tokens.verify(body.get("token"))
        await self.per_token.check(grant.signed)
        note_project(scope, grant.principal.project_id)
        fields = {name: value for name, value in body.items() if name != "token"}
        result = await self.ingestor.add_feedback(grant.principal, str(grant.event_id), fields)
        return feedback_body(result)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _answer(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
) -> None:
    await json_response(body, status, headers)(scope, receive, send)
