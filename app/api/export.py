"""`GET /api/v1/events/export`: the project's events as a JSONL or CSV download, streamed.

Authentication (the key decides the project), the rate limit and every filter are checked in
dependencies, before the 200 starts; the body is then streamed page by page from
app/services/export.py. The OpenAPI description is app/api/openapi_export.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from app.services.event_fields import MAX_TAG_LENGTH
from app.services.event_filters import event_filter
from app.services.export import Download, download
from app.services.keys import Principal, authenticate
from app.services.reads_events import EventFilter

router = APIRouter(tags=["events"])
Text = Annotated[str | None, Query(max_length=256)]


async def api_key(request: Request) -> Principal:
    """Dependency: the caller's key (401 otherwise), within its rate limit (429 otherwise)."""
    state = request.app.state
    principal = await authenticate(request.headers.get("authorization"), cache=state.key_cache)
    if state.rate_limiter is not None:
        await state.rate_limiter.check(principal.key_id)
    return principal


def filters(
    session_id: Text = None, user_id: Text = None, model: Text = None, feedback: Text = None,
    q: Text = None, since: Text = None, until: Text = None,
    tag: Annotated[str | None, Query(max_length=MAX_TAG_LENGTH)] = None, status: Text = None,
) -> EventFilter:  # fmt: skip
    """Dependency: the events list's filters from the query string (empty: no filter)."""
    return event_filter(
        session_id=session_id, user_id=user_id, model=model, feedback=feedback, q=q,
        since=since, until=until, tag=tag, status=status,
    )  # fmt: skip


def attachment(export: Download) -> StreamingResponse:
    """The streamed export file as a download (the dashboard's route sends the same)."""
    headers = {
        "Content-Disposition": f'attachment; filename="{export.filename}"',
        "Cache-Control": "no-store",
    }
    return StreamingResponse(export.body, media_type=export.media_type, headers=headers)


@router.get("/events/export", include_in_schema=False)
async def export(
    principal: Annotated[Principal, Depends(api_key)],
    f: Annotated[EventFilter, Depends(filters)],
    format: Text = None,
) -> StreamingResponse:
    """The key's project's events matching the filters, oldest first."""
    return attachment(download(principal.project_id, f, format))
