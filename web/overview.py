"""The overview (the home page when signed in): figures, charts and breakdowns for a time range,
with a JSON endpoint for the charts and an SSE stream that says when to fetch it again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.api.responses import json_response
from app.errors import Invalid
from app.live import Revoked, Subscription
from app.services import metrics as service
from app.services.metrics import BUCKETS, DEFAULT_RANGE, RANGES, GroupBy, Metrics, Window
from app.services.reads import list_events
from web import overview_view as view
from web.deps import ProjectId, optional_project_id, parse_time
from web.keys import may_create_keys
from web.security import SignedIn, optional_session
from web.templating import render, templates

Param = Annotated[str | None, Query(max_length=64)]
RangeParam = Annotated[str | None, Query(alias="range", max_length=16)]
TICK_SECONDS = 1.0  # the page redraws at most this often, however fast events arrive
# Labels follow the service's tables, so a range or bucket added there shows up here.
RANGE_LABELS = {name: "Last hour" if length == 3600 else view.duration(timedelta(seconds=length))
                for name, (length, _) in RANGES.items()}  # fmt: skip
BUCKET_LABELS = {name: view.duration(timedelta(seconds=size)) for name, size in BUCKETS.items()}

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Choice:
    """The time range, as it appears in the URL: a named `range`, or `since`/`until`."""

    range: str | None = None
    since: str | None = None
    until: str | None = None
    bucket: str | None = None

    @property
    def custom(self) -> bool:
        """Whether the window is given by dates rather than a named range."""
        return self.range == "custom" or (not self.range and bool(self.since or self.until))

    @property
    def current(self) -> str:
        """The range's name as the page highlights it ("custom" for dates)."""
        return "custom" if self.custom else self.range or DEFAULT_RANGE

    def window(self, now: datetime | None = None) -> Window:
        """The aligned window; Invalid (a 422 with a sentence) for anything malformed."""
        if self.bucket and self.bucket not in BUCKETS:
            raise Invalid(f"bucket must be one of {', '.join(BUCKETS)}")
        bucket = BUCKETS[self.bucket] if self.bucket else None
        if self.custom:
            since = parse_time(self.since, "since")
            if since is None:
                raise Invalid("a custom range needs since (a date and time)")
            until = parse_time(self.until, "until") or now or datetime.now(UTC)
            return service.align(since, until, bucket or service.default_bucket(since, until))
        window = service.window_for_range(self.range or DEFAULT_RANGE, now)
        return window if bucket is None else service.align(window.since, window.until, bucket)

    def query(self) -> str:
        """The URL query string of this choice."""
        return urlencode({k: v for k, v in vars(self).items() if v})


async def load(project_id: int, window: Window) -> Metrics:
    """The window's metrics (one series of everything, and `series_by_model`)."""
    return await service.metrics(project_id, window, GroupBy.NONE)


def figures_context(overall: Metrics, choice: Choice) -> dict[str, Any]:
    """What `_overview_figures.html` and `_overview_tables.html` need."""
    return {
        "cards": view.cards(overall.summary, overall.previous),
        "period": view.duration(overall.window.length),
        "models": view.model_lines(overall),
        "by_events": overall.top_users_by_events,
        "by_cost": overall.top_users_by_cost,
        "choice": choice,
    }


async def page_context(project_id: int, window: Window, choice: Choice) -> dict[str, Any]:
    """The whole page's context beyond the figures: the window and the first-run state."""
    overall = await load(project_id, window)
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
    except Invalid as exc:
        context["error"] = exc.message
        return render(request, "overview.html", context, status_code=422)
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
    overall = await load(project_id, choice.window())
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
