"""`GET /api/v1/events/export`: the project's events as a JSONL or CSV download, streamed.

Authentication (the key decides the project), the rate limit and every filter are checked in
dependencies, before the 200 starts; the body is then streamed page by page from
app/services/export.py. The OpenAPI description is app/api/openapi_export.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from app.api.auth import api_key
from app.services.event_fields import MAX_TAG_LENGTH
from app.services.event_filters import event_filter
from app.services.export import download
from app.services.keys import Principal
from app.services.reads_events import EventFilter

router = APIRouter(tags=["events"])
Text = Annotated[str | None, Query(max_length=256)]


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


@router.get("/events/export", include_in_schema=False)
async def export(
    principal: Annotated[Principal, Depends(api_key)],
    f: Annotated[EventFilter, Depends(filters)],
    format: Text = None,
) -> StreamingResponse:
    """The key's project's events matching the filters, oldest first."""
    export = download(principal.project_id, f, format)
    return StreamingResponse(export.body, media_type=export.media_type, headers=export.headers)
