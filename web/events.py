"""Events: the live table (filters in the URL, keyset "load more"), event detail, SSE stream."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from app.errors import Invalid
from app.live import EventLogged, LiveFilter
from app.services.event_fields import MAX_TAG_LENGTH
from app.services.event_filters import event_filter
from app.services.export import download
from app.services.live_reads import live_event, prefetch_events, shared_render
from app.services.reads import (
    EventFilter,
    feedback_for_events,
    get_event,
    list_events,
    tags_of_events,
)
from web.deps import Cursor, Param, ProjectId, current_project_id
from web.htmx import page_or_panel, page_or_rows
from web.keys import may_create_keys
from web.list_filters import UrlFields
from web.live import LiveStream, live_stream
from web.security import SECURITY_HEADERS, SignedIn
from web.templating import fragment, render

COLUMNS = 12  # of the events table
# Admits no event: a table of events with feedback cannot gain a just-logged one (it has none).
NO_EVENT = LiveFilter(until=datetime.min.replace(tzinfo=UTC))
OVERFLOW_NOTICE = (
    f'<tr class="notice"><td colspan="{COLUMNS}">Some events were not shown live: reload the '
    "page.</td></tr>"
)

# The form's labels of the service's filter names, for its messages ("From must be...").
LABELS = {"since": "From", "until": "To", "user_id": "End user", "session_id": "Session",
          "model": "Model", "q": "Search", "tag": "Tag", "feedback": "Feedback",
          "status": "Status"}  # fmt: skip
LABELLED = re.compile(r"\b(" + "|".join(LABELS) + r")\b")

router = APIRouter(include_in_schema=False)


def in_form_words(message: str) -> str:
    """A filter's error message in the words of the form (its labels, not the URL's names)."""
    return LABELLED.sub(lambda match: LABELS[match.group(1)], message)


@dataclass(frozen=True)
class Filters(UrlFields):
    """The table's filters, as they appear in the URL; a field left empty in the form ("") is
    no filter (`url_filters` makes it None)."""

    model: str | None = None
    user: str | None = None
    session: str | None = None
    feedback: str | None = None
    since: str | None = None
    until: str | None = None
    q: str | None = None
    tag: str | None = None
    status: str | None = None
    sort: str | None = None  # "best": best match first (with a search), else newest first
    NOT_FILTERS = ("sort",)

    def to_service(self) -> EventFilter:
        """The read service's filter; bad values are a 422 with a clear message."""
        return event_filter(
            session_id=self.session, user_id=self.user, model=self.model,
            feedback=self.feedback, q=self.q, since=self.since, until=self.until,
            tag=self.tag, status=self.status,
        )  # fmt: skip

    def to_live(self) -> LiveFilter:
        """The live stream's filter: which just-logged events the table would list."""
        f = self.to_service()
        if f.feedback not in (None, "none"):
            return NO_EVENT
        return LiveFilter(
            f.session_id, f.user_id, f.model, f.until, f.search, tag=f.tag, status=f.status
        )


def url_filters(
    model: Param = None, user: Param = None,
    session: Annotated[str | None, Query(max_length=256)] = None,
    feedback: Param = None, since: Param = None, until: Param = None, q: Param = None,
    tag: Annotated[str | None, Query(max_length=MAX_TAG_LENGTH)] = None, status: Param = None,
    sort: Param = None,
) -> Filters:  # fmt: skip
    """Dependency: the table's filters from the query string. The form sends every field, the
    empty ones as "" (issue 20): those are no filter, not a filter matching "" (nothing)."""
    values = (model, user, session, feedback, since, until, q, tag, status, sort)
    return Filters(*(value or None for value in values))


UrlFilters = Annotated[Filters, Depends(url_filters)]


@router.get("/events", response_class=HTMLResponse)
async def events_page(
    request: Request, session: SignedIn, filters: UrlFilters, after: Cursor = None
) -> HTMLResponse:
    """The table; an htmx "load more" gets only the next rows. A filter the service refuses
    (a time in the wrong form...) is a message on the page, with the form to correct it."""
    project_id = await current_project_id(session)
    context = {"session": session, "filters": filters, "after": after, "columns": COLUMNS,
               "base_url": str(request.base_url).rstrip("/")}  # fmt: skip
    try:
        wanted = filters.to_service()
    except Invalid as exc:
        return render(request, "events.html", {**context, "error": in_form_words(exc.message)}, 422)
    order: Literal["newest", "best"] = "best" if filters.sort == "best" else "newest"
    page = await list_events(project_id, after=after, filter=wanted, order=order)
    ids = [event.id for event in page.items]
    history = await feedback_for_events(project_id, ids)
    context |= {"page": page, "tags": await tags_of_events(project_id, ids),
                "latest": {event_id: items[-1] for event_id, items in history.items() if items},
                "can_create_key": await may_create_keys(session, project_id)}  # fmt: skip
    return page_or_rows(request, after is not None, "events.html", "_event_rows.html", context)


@router.get("/live/events", response_class=LiveStream)
async def events_stream(
    request: Request, session: SignedIn, project_id: ProjectId, filters: UrlFilters
) -> LiveStream:
    """New rows for the table, pushed as they are committed (never polled); the stream ends
    when the login session does."""
    wanted = filters.to_live()
    bus = request.app.state.live

    async def render(key: tuple[int, uuid.UUID, tuple[str, ...]]) -> str | None:
        event = await live_event(bus, key[0], key[1])
        if event is None:
            return None
        return fragment("_event_row.html", event=event, latest={}, tags={event.id: list(key[2])})

    shared_row = shared_render(bus, "event_row", render)  # once per event, for every stream

    async def row(message: EventLogged) -> str | None:
        event = await live_event(bus, project_id, message.event_id)
        if event is None or not wanted.admits_text(event.input, event.output):
            return None
        return await shared_row((project_id, message.event_id, message.tags))

    return live_stream(
        request, session, project_id, "event", row, wanted=wanted, overflow=OVERFLOW_NOTICE,
        prefetch=partial(prefetch_events, bus, project_id),
    )  # fmt: skip


@router.get("/events/export", response_class=StreamingResponse)
async def events_export(
    session: SignedIn, project_id: ProjectId, filters: UrlFilters, format: Param = None
) -> StreamingResponse:
    """The table's events under its current filters as a JSONL or CSV download (the API's
    export, app/services/export.py), from the signed-in user's current project."""
    export = download(project_id, filters.to_service(), format)
    headers = {**SECURITY_HEADERS, **export.headers}
    return StreamingResponse(export.body, media_type=export.media_type, headers=headers)


@router.get("/events/{event_id}", response_class=HTMLResponse)
async def event_page(request: Request, event_id: str, session: SignedIn) -> HTMLResponse:
    """One event in full: input and output, metadata, feedback history; as a page, or in the
    events table's side panel (htmx)."""
    project_id = await current_project_id(session)
    event = await get_event(project_id, event_id)
    history = (await feedback_for_events(project_id, [event.id]))[event.id]
    tags = (await tags_of_events(project_id, [event.id])).get(event.id, [])
    context = {"session": session, "event": event, "feedback": history, "tags": tags,
               "metadata": json.dumps(event.metadata, indent=2, ensure_ascii=False)
               if event.metadata is not None else None}  # fmt: skip
    return page_or_panel(request, "event.html", "_event_panel.html", context, "/events")
