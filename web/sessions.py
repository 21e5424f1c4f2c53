"""Sessions: the list (live) and the conversation replay (new turns append live)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from app.errors import Invalid
from app.live import EventLogged, LiveFilter
from app.services.live_reads import live_event, prefetch_events, shared_render
from app.services.reads import (
    Page,
    SessionFilter,
    feedback_by_session,
    feedback_for_events,
    get_session,
    list_session_events,
    list_sessions,
    sessions_by_keys,
)
from web.deps import Cursor, ProjectId, current_project_id
from web.htmx import page_or_panel, page_or_rows
from web.keys import may_create_keys
from web.list_filters import ActivityFilters, UrlFilters
from web.live import LiveStream, live_stream
from web.security import SignedIn
from web.templating import fragment, render

SessionId = Annotated[str, Query(alias="id", max_length=256)]
# Admits no event: a list of sessions active from a later time gains no just-logged one.
NO_EVENT = LiveFilter(until=datetime.min.replace(tzinfo=UTC))
LABELS = ("Active from", "Active to")  # the form's since and until

router = APIRouter(include_in_schema=False)


async def existing_session(session_id: SessionId, project_id: ProjectId) -> int:
    """Dependency: the project, once the session is known to be in it (404 otherwise)."""
    await get_session(project_id, session_id)
    return project_id


def to_live(filters: ActivityFilters) -> LiveFilter:
    """Which just-logged events update a row of the list (a session's latest activity is then
    the event's time: now)."""
    user, since, until = filters.parsed(*LABELS)
    if since is not None and since > datetime.now(UTC):
        return NO_EVENT
    return LiveFilter(user_id=user, until=until)


@router.get("/sessions", response_class=HTMLResponse)
async def sessions_page(
    request: Request, session: SignedIn, filters: UrlFilters, after: Cursor = None
) -> HTMLResponse:
    """Sessions, most recently active first, with their feedback summary."""
    project_id = await current_project_id(session)
    context = {"session": session, "filters": filters, "after": after,
               "base_url": str(request.base_url).rstrip("/")}  # fmt: skip
    try:
        wanted = SessionFilter(*filters.parsed(*LABELS))
    except Invalid as exc:
        return render(request, "sessions.html", {**context, "error": exc.message}, 422)
    page = await list_sessions(project_id, after=after, filter=wanted)
    scores = await feedback_by_session(project_id, [item.id for item in page.items])
    context |= {"page": page, "scores": scores,
                "can_create_key": await may_create_keys(session, project_id)}  # fmt: skip
    return page_or_rows(request, bool(after), "sessions.html", "_session_rows.html", context)


# `:path`: client session ids may contain "/" (and uvicorn decodes %2F before routing).
@router.get("/sessions/{session_id:path}", response_class=HTMLResponse)
async def replay_page(
    request: Request, session_id: str, session: SignedIn, after: Cursor = None
) -> HTMLResponse:
    """The conversation: each event as a user bubble and an assistant bubble, in order; as a
    page, or in the sessions list's side panel (htmx)."""
    project_id = await current_project_id(session)
    conversation = await get_session(project_id, session_id)
    turns = await list_session_events(project_id, session_id, first=100, after=after)
    history = await feedback_for_events(project_id, [turn.id for turn in turns.items])
    context = {"session": session, "conversation": conversation, "turns": turns,
               "latest": {k: v[-1] for k, v in history.items() if v}}  # fmt: skip
    return page_or_panel(request, "session.html", "_session_panel.html", context, "/sessions")


@router.get("/live/sessions", response_class=LiveStream)
async def sessions_stream(
    request: Request, session: SignedIn, project_id: ProjectId, filters: UrlFilters
) -> LiveStream:
    """The up-to-date row of each session that just got an event (the page keeps the newest)."""

    async def render(key: tuple[int, uuid.UUID, str]) -> str:
        found = await sessions_by_keys(key[0], [key[2]])
        scores = await feedback_by_session(key[0], [key[2]])
        page = Page(tuple(found.values()), None, False)
        return fragment("_session_rows.html", page=page, scores=scores, filters=filters)

    # The session's row as this event left it: read and rendered once for every stream.
    shared_row = shared_render(request.app.state.live, "session_row", render)

    async def row(message: EventLogged) -> str | None:
        return await shared_row((project_id, message.event_id, message.session_id))

    return live_stream(request, session, project_id, "session", row, wanted=to_live(filters))


@router.get("/live/session", response_class=LiveStream)
async def replay_stream(
    request: Request,
    session: SignedIn,
    project_id: Annotated[int, Depends(existing_session)],
    session_id: SessionId,
) -> LiveStream:
    """New turns of this conversation, pushed as they are committed."""

    bus = request.app.state.live

    async def turn(message: EventLogged) -> str | None:
        event = await live_event(bus, project_id, message.event_id)  # once for every stream
        return None if event is None else fragment("_turn.html", turn=event, latest={})

    wanted = LiveFilter(session_id=session_id)
    prefetch = partial(prefetch_events, bus, project_id)
    return live_stream(request, session, project_id, "turn", turn, wanted=wanted, prefetch=prefetch)
