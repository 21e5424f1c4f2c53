"""Sessions: the list (live) and the conversation replay (new turns append live)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.live import EventLogged, LiveFilter
from app.services.live_reads import live_event, shared_render
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
from web.deps import Cursor, Param, ProjectId, current_project_id
from web.htmx import page_or_rows
from web.live import live_fragments
from web.security import SignedIn
from web.templating import fragment, render

SessionId = Annotated[str, Query(alias="id", max_length=256)]

router = APIRouter(include_in_schema=False)


async def existing_session(session_id: SessionId, project_id: ProjectId) -> int:
    """Dependency: the project, once the session is known to be in it (404 otherwise)."""
    await get_session(project_id, session_id)
    return project_id


@router.get("/sessions", response_class=HTMLResponse)
async def sessions_page(
    request: Request, session: SignedIn, user: Param = None, after: Cursor = None
) -> HTMLResponse:
    """Sessions, most recently active first, with their feedback summary."""
    project_id = await current_project_id(session)
    user = user or None  # an empty form field is no filter (issue 20)
    page = await list_sessions(project_id, after=after, filter=SessionFilter(user_id=user))
    scores = await feedback_by_session(project_id, [item.id for item in page.items])
    context = {"session": session, "page": page, "scores": scores, "user": user, "after": after}
    return page_or_rows(request, bool(after), "sessions.html", "_session_rows.html", context)


# `:path`: client session ids may contain "/" (and uvicorn decodes %2F before routing).
@router.get("/sessions/{session_id:path}", response_class=HTMLResponse)
async def replay_page(
    request: Request, session_id: str, session: SignedIn, after: Cursor = None
) -> HTMLResponse:
    """The conversation: each event as a user bubble and an assistant bubble, in order."""
    project_id = await current_project_id(session)
    conversation = await get_session(project_id, session_id)
    turns = await list_session_events(project_id, session_id, first=100, after=after)
    history = await feedback_for_events(project_id, [turn.id for turn in turns.items])
    context = {"session": session, "conversation": conversation, "turns": turns,
               "latest": {k: v[-1] for k, v in history.items() if v}}  # fmt: skip
    return render(request, "session.html", context)


@router.get("/live/sessions", response_class=EventSourceResponse)
async def sessions_stream(
    request: Request, session: SignedIn, project_id: ProjectId, user: Param = None
) -> AsyncIterator[ServerSentEvent]:
    """The up-to-date row of each session that just got an event (the page keeps the newest)."""

    async def render(key: tuple[int, uuid.UUID, str, str | None]) -> str:
        found = await sessions_by_keys(key[0], [key[2]])
        scores = await feedback_by_session(key[0], [key[2]])
        page = Page(tuple(found.values()), None, False)
        return fragment("_session_rows.html", page=page, scores=scores, user=key[3])

    # The session's row as this event left it: read and rendered once for every stream.
    shared_row = shared_render(request.app.state.live, "session_row", render)

    async def row(message: EventLogged) -> str | None:
        return await shared_row((project_id, message.event_id, message.session_id, user))

    stream = live_fragments(
        request, session, project_id, "session", row, wanted=LiveFilter(user_id=user or None)
    )
    async with aclosing(stream):
        async for item in stream:
            yield item


@router.get("/live/session", response_class=EventSourceResponse)
async def replay_stream(
    request: Request,
    session: SignedIn,
    project_id: Annotated[int, Depends(existing_session)],
    session_id: SessionId,
) -> AsyncIterator[ServerSentEvent]:
    """New turns of this conversation, pushed as they are committed."""

    bus = request.app.state.live

    async def turn(message: EventLogged) -> str | None:
        event = await live_event(bus, project_id, message.event_id)  # once for every stream
        return None if event is None else fragment("_turn.html", turn=event, latest={})

    wanted = LiveFilter(session_id=session_id)
    stream = live_fragments(request, session, project_id, "turn", turn, wanted=wanted)
    async with aclosing(stream):
        async for item in stream:
            yield item
