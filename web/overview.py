"""The overview (the home page when signed in): figures, charts and breakdowns for a time range,
with a JSON endpoint for the charts and an SSE stream that says when to fetch it again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.api.responses import json_response
from app.errors import Invalid
from app.live import Revoked, Subscription
from app.services import metrics as service
from app.services.metrics import Detail, GroupBy, Metrics, Window
from app.services.reads import list_events
from web import overview_view as view
from web.deps import ProjectId, optional_project_id
from web.keys import may_create_keys
from web.overview_form import BUCKET_LABELS, RANGE_LABELS, Choice
from web.security import SignedIn, optional_session
from web.templating import render, templates

# No length limits here: a value too long for a date is the form's message, never a JSON 422.
Param = Annotated[str | None, Query()]
RangeParam = Annotated[str | None, Query(alias="range")]
TICK_SECONDS = 1.0  # the page redraws at most this often, however fast events arrive

router = APIRouter(include_in_schema=False)


async def load(project_id: int, window: Window, detail: Detail) -> Metrics:
    """The window's metrics: the figures alone for the page (its charts fetch theirs from
    /overview/data), or with the charts' series (one of everything, and each model's)."""
    return await service.metrics(project_id, window, GroupBy.NONE, detail)


def figures_context(overall: Metrics, choice: Choice) -> dict[str, Any]:
    """What `_overview_figures.html` and `_overview_tables.html` need."""
    return {
        "cards": view.cards(overall.summary, overall.previous, overall.window.length),
        "models": view.model_lines(overall),
        "by_events": overall.top_users_by_events,
        "by_cost": overall.top_users_by_cost,
        "choice": choice,
    }


async def page_context(project_id: int, window: Window, choice: Choice) -> dict[str, Any]:
    """The whole page's context beyond the figures: the window and the first-run state."""
    overall = await load(project_id, window, Detail.FIGURES)
    first_run = not (await list_events(project_id, first=1)).items
    return figures_context(overall, choice) | {
        "window": window,
        "step": view.duration(timedelta(seconds=window.bucket)),
        "empty": first_run,
        "live": window.until >= datetime.now(UTC),  # a window in the past never changes
    }


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request, range_: RangeParam = None, since: Param = None, until: Param = None,
    bucket: Param = None,
) -> HTMLResponse:  # fmt: skip
    """Signed in: the overview of the current project. Otherwise: how to log an event."""
    session = await optional_session(request)
    project_id = await optional_project_id(session)
    context: dict[str, Any] = {"session": session, "base_url": str(request.base_url)[:-1]}
    if project_id is None:
        return render(request, "index.html", context)
    choice = Choice(range_, since, until, bucket)
    context |= {"choice": choice, "ranges": RANGE_LABELS, "buckets": BUCKET_LABELS}
    try:
        window = choice.window()
    except Invalid as exc:  # the form again with what to change: a page, not an error (200)
        context["error"] = exc.message
        return render(request, "overview.html", context)
    context |= await page_context(project_id, window, choice)
    context["can_create_key"] = session is not None and await may_create_keys(session, project_id)
    return render(request, "overview.html", context)


@router.get("/overview/data")
async def overview_data(
    project_id: ProjectId, range_: RangeParam = None, since: Param = None,
    until: Param = None, bucket: Param = None,
) -> Response:  # fmt: skip
    """The charts' data and the figures' HTML for the same window, as JSON."""
    choice = Choice(range_, since, until, bucket)
    overall = await load(project_id, choice.window(), Detail.CHARTS)
    context = figures_context(overall, choice)
    body = view.chart_data(overall) | {
        part: templates.env.get_template(f"_overview_{part}.html").render(context)
        for part in ("figures", "tables")
    }
    return json_response(body, headers={"Cache-Control": "no-store"})


@router.get("/live/overview", response_class=EventSourceResponse)
async def overview_stream(
    request: Request, session: SignedIn, project_id: ProjectId
) -> AsyncIterator[ServerSentEvent]:
    """A "tick" whenever the project's events or feedback change, at most once a second.

    The stream starts with "ready" once subscribed: a page that fetches its data then has
    missed nothing, even across a reconnect. It ends when the login session does.
    """
    live = request.app.state.live
    async with live.subscribe(project_id, credential=session.credential) as subscription:
        yield ServerSentEvent(raw_data="subscribed", event="ready")
        async with aclosing(ticks(subscription, TICK_SECONDS)) as stream:
            async for _ in stream:
                yield ServerSentEvent(raw_data="changed", event="tick")


async def ticks(subscription: Subscription, interval: float) -> AsyncGenerator[None]:
    """One tick per burst of messages (overflow markers included), at most one per `interval`;
    none more once the subscription is revoked.

    A reader task drains the subscription into a flag, so a burst of thousands of events
    costs one tick (and one refetch by the page), not thousands.
    """
    changed = asyncio.Event()

    async def drain() -> None:
        while not isinstance(await subscription.get(), Revoked):
            changed.set()
        changed.set()  # wake the loop below, which sees the reader done and stops

    reader = asyncio.create_task(drain())
    try:
        while True:
            await changed.wait()
            if reader.done():
                return
            changed.clear()
            yield None
            await asyncio.sleep(interval)
    finally:
        reader.cancel()
