"""The API key of a REST route answered by the router (the ingest and OpenTelemetry routes
authenticate ahead of it, in their middlewares): Bearer `ph_…`, then the key's rate limit."""

from __future__ import annotations

from fastapi import Request

from app.request_context import note_project
from app.services.keys import KeyCache, Principal, authenticate


async def _principal(request: Request, cache: KeyCache | None) -> Principal:
    principal = await authenticate(request.headers.get("authorization"), cache=cache)
    note_project(request.scope, principal.project_id)  # for the access log line
    limiter = request.app.state.rate_limiter
    if limiter is not None:
        await limiter.check(principal.key_id)
    return principal


async def api_key(request: Request) -> Principal:
    """Dependency: the caller's key (401 otherwise; a recent success is answered from the
    app's key cache), within its rate limit (429 otherwise)."""
    return await _principal(request, request.app.state.key_cache)


async def fresh_api_key(request: Request) -> Principal:
    """Dependency: `api_key` checked against the database, never the cache: for a write that
    cannot be undone, a key revoked a second ago is refused."""
    return await _principal(request, None)
