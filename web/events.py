"""Events: the live table (filters in the URL, keyset "load more"), event detail, SSE stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.templating import Jinja2Templates

from app.errors import Invalid
from app.live import EventLogged, Overflow, Revoked
from app.services import accounts
from app.services.accounts import WebSession
from app.services.reads import (
    EventFilter,
    EventView,
    events_by_ids,
    feedback_for_events,
    get_event,
    list_events,
)
from web.keys import may_create_keys
from web.security import SignedIn, render

Param = Annotated[str | None, Query(max_length=256)]
FEEDBACK_STATES = {"positive", "negative", "none"}


@dataclass(frozen=True)
class Filters:
    """The table's filters, as they appear in the URL."""

    model: str | None = None
    user: str | None = None
    session: str | None = None
    feedback: str | None = None
    since: str | None = None
    until: str | None = None
    q: str | None = None

    def query(self, **extra: str) -> str:
        """The URL query string of these filters (plus `extra`)."""
        pairs = {k: v for k, v in vars(self).items() if v} | extra
        return urlencode(pairs)

    def to_service(self) -> EventFilter:
        """The read service's filter; bad values are a 422 with a clear message."""
        if self.feedback and self.feedback not in FEEDBACK_STATES:
            raise Invalid("feedback must be positive, negative or none")
        return EventFilter(
            session_id=self.session, user_id=self.user, model=self.model,
            feedback=self.feedback or None,  # type: ignore[arg-type]  # checked just above
            since=_time(self.since, "since"),
            until=_time(self.until, "until"), search=self.q or None,
        )  # fmt: skip


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} must be a date and time such as 2026-03-03T10:30") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def matches(event: EventView, f: EventFilter) -> bool:
    """Whether a just-logged event belongs in a table with filter `f` (it has no feedback yet)."""
    equal = (f.model, event.model), (f.user_id, event.user_id), (f.session_id, event.session_id)
    if any(wanted is not None and wanted != value for wanted, value in equal):
        return False
    if f.feedback not in (None, "none") or (f.until is not None and event.created_at >= f.until):
        return False
    needle = (f.search or "").lower()
    return not needle or needle in event.input.lower() or needle in event.output.lower()


async def current_project_id(session: WebSession) -> int:
    """The project the signed-in user is looking at (NotFound if no longer a member)."""
    if session.project_id is None:
        raise Invalid("you have no project yet")
    return (await accounts.require_membership(session.user_id, session.project_id)).id


async def project_of(session: SignedIn) -> int:
    """Dependency: the current project, checked before any response starts.

    Streaming routes are generators whose body runs after the 200 headers are sent, so their
    access checks must live in dependencies like this one.
    """
    return await current_project_id(session)


ProjectId = Annotated[int, Depends(project_of)]


def build_event_routes(templates: Jinja2Templates) -> APIRouter:
    """Routes under /events, scoped to the signed-in user's current project."""
    router = APIRouter(include_in_schema=False)

    @router.get("/events", response_class=HTMLResponse)
    async def events_page(
        request: Request, session: SignedIn, model: Param = None, user: Param = None,
        session_id: Annotated[str | None, Query(alias="session", max_length=256)] = None,
        feedback: Param = None, since: Param = None, until: Param = None, q: Param = None,
        after: Annotated[str | None, Query(max_length=512)] = None,
    ) -> HTMLResponse:  # fmt: skip
        """The table; an htmx "load more" gets only the next rows."""
        filters = Filters(model, user, session_id, feedback, since, until, q)
        project_id = await current_project_id(session)
        page = await list_events(project_id, after=after, filter=filters.to_service())
        history = await feedback_for_events(project_id, [event.id for event in page.items])
        latest = {event_id: items[-1] for event_id, items in history.items() if items}
        context = {"session": session, "page": page, "filters": filters, "after": after,
                   "latest": latest, "base_url": str(request.base_url).rstrip("/"),
                   "can_create_key": await may_create_keys(session, project_id)}  # fmt: skip
        partial = after is not None and htmx_fragment(request)
        name = "_event_rows.html" if partial else "events.html"
        response = render(templates, request, name, context)
        response.headers["Vary"] = "HX-Request"
        return response

    @router.get("/live/events", response_class=EventSourceResponse)
    async def events_stream(
        request: Request, session: SignedIn, project_id: ProjectId, model: Param = None,
        user: Param = None,
        session_id: Annotated[str | None, Query(alias="session", max_length=256)] = None,
        feedback: Param = None, since: Param = None, until: Param = None, q: Param = None,
    ) -> AsyncIterator[ServerSentEvent]:  # fmt: skip
        """New rows for the table, pushed as they are committed (never polled); the stream
        ends when the login session does."""
        wanted = Filters(model, user, session_id, feedback, since, until, q).to_service()
        live = request.app.state.live
        async with live.subscribe(project_id, credential=session.credential) as subscription:
            while True:
                message = await subscription.get()
                if isinstance(message, Revoked):
                    return
                if isinstance(message, Overflow):
                    yield ServerSentEvent(raw_data=_overflow_notice(), event="overflow")
                elif isinstance(message, EventLogged):
                    html = await _row_for(templates, project_id, message, wanted)
                    if html:
                        yield ServerSentEvent(raw_data=html, event="event")

    @router.get("/events/{event_id}", response_class=HTMLResponse)
    async def event_page(request: Request, event_id: str, session: SignedIn) -> HTMLResponse:
        """One event in full: input and output, metadata, feedback history."""
        project_id = await current_project_id(session)
        event = await get_event(project_id, event_id)
        history = (await feedback_for_events(project_id, [event.id]))[event.id]
        context = {"session": session, "event": event, "feedback": history,
                   "metadata": json.dumps(event.metadata, indent=2, ensure_ascii=False)
                   if event.metadata is not None else None}  # fmt: skip
        return render(templates, request, "event.html", context)

    return router


def htmx_fragment(request: Request) -> bool:
    """Whether to answer with a fragment: an htmx request that is not a history restore."""
    return bool(request.headers.get("hx-request")) and not request.headers.get(
        "hx-history-restore-request"
    )


async def _row_for(
    templates: Jinja2Templates, project_id: int, message: EventLogged, wanted: EventFilter
) -> str | None:
    event = (await events_by_ids(project_id, [message.event_id])).get(message.event_id)
    if event is None or not matches(event, wanted):
        return None
    template = templates.env.get_template("_event_row.html")
    html: str = template.render(event=event, latest={})
    return html.replace("\n", " ")


def _overflow_notice() -> str:
    notice = "Some events were not shown live: reload the page."
    return f'<tr class="notice"><td colspan="9">{notice}</td></tr>'


def short(text: str, limit: int = 120) -> str:
    """Truncate long text for table cells (the detail page shows it whole)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
