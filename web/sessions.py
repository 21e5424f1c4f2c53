"""Sessions: the list (live) and the conversation replay (new turns append live)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.templating import Jinja2Templates

from app.live import EventLogged, Overflow, Revoked
from app.services.reads import (
    Page,
    SessionFilter,
    events_by_ids,
    feedback_by_session,
    feedback_for_events,
    get_session,
    list_session_events,
    list_sessions,
    sessions_by_keys,
)
from web.events import ProjectId, current_project_id, htmx_fragment
from web.security import SignedIn, render

Cursor = Annotated[str | None, Query(max_length=512)]
User = Annotated[str | None, Query(max_length=256)]


async def existing_session(
    session_id: Annotated[str, Query(alias="id", max_length=256)], project_id: ProjectId
) -> int:
    """Dependency: the project, once the session is known to be in it (404 otherwise)."""
    await get_session(project_id, session_id)
    return project_id


def build_session_routes(templates: Jinja2Templates) -> APIRouter:
    """Routes under /sessions, scoped to the signed-in user's current project."""
    router = APIRouter(include_in_schema=False)

    @router.get("/sessions", response_class=HTMLResponse)
    async def sessions_page(
        request: Request, session: SignedIn, user: User = None, after: Cursor = None
    ) -> HTMLResponse:
        """Sessions, most recently active first, with their feedback summary."""
        project_id = await current_project_id(session)
        page = await list_sessions(project_id, after=after, filter=SessionFilter(user_id=user))
        scores = await feedback_by_session(project_id, [item.id for item in page.items])
        context = {"session": session, "page": page, "scores": scores, "user": user,
                   "after": after}  # fmt: skip
        name = "_session_rows.html" if after and htmx_fragment(request) else "sessions.html"
        response = render(templates, request, name, context)
        response.headers["Vary"] = "HX-Request"
        return response

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
        return render(templates, request, "session.html", context)

    @router.get("/live/sessions", response_class=EventSourceResponse)
    async def sessions_stream(
        request: Request, session: SignedIn, project_id: ProjectId, user: User = None
    ) -> AsyncIterator[ServerSentEvent]:
        """The up-to-date row of each session that just got an event (the page keeps the newest)."""
        rows = templates.env.get_template("_session_rows.html")
        live = request.app.state.live
        async with live.subscribe(project_id, credential=session.credential) as subscription:
            while True:
                message = await subscription.get()
                if isinstance(message, Revoked):  # logged out or expired: end the stream
                    return
                if isinstance(message, Overflow):
                    yield ServerSentEvent(raw_data="", event="overflow")
                elif isinstance(message, EventLogged) and user in (None, message.user_id):
                    found = await sessions_by_keys(project_id, [message.session_id])
                    scores = await feedback_by_session(project_id, [message.session_id])
                    page = Page(tuple(found.values()), None, False)
                    html = rows.render(page=page, scores=scores, user=user)
                    yield ServerSentEvent(raw_data=html.replace("\n", " "), event="session")

    @router.get("/live/session", response_class=EventSourceResponse)
    async def replay_stream(
        request: Request,
        session: SignedIn,
        project_id: Annotated[int, Depends(existing_session)],
        session_id: Annotated[str, Query(alias="id", max_length=256)],
    ) -> AsyncIterator[ServerSentEvent]:
        """New turns of this conversation, pushed as they are committed."""
        turn = templates.env.get_template("_turn.html")
        live = request.app.state.live
        async with live.subscribe(project_id, credential=session.credential) as subscription:
            while True:
                message = await subscription.get()
                if isinstance(message, Revoked):  # logged out or expired: end the stream
                    return
                if isinstance(message, Overflow):
                    yield ServerSentEvent(raw_data="", event="overflow")
                elif isinstance(message, EventLogged) and message.session_id == session_id:
                    found = await events_by_ids(project_id, [message.event_id])
                    if message.event_id in found:
                        html = turn.render(turn=found[message.event_id], latest={})
                        yield ServerSentEvent(raw_data=html.replace("\n", " "), event="turn")

    return router
