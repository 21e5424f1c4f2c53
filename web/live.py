"""The dashboard's live streams (SSE): the bus messages of the signed-in user's project, turned
into HTML fragments that htmx inserts as they arrive (never polled).

Every stream follows the same rules, kept here: a stream ends when its login session does
(logged out or expired: the bus says `Revoked`); a reader that fell behind gets an "overflow"
event, never a silent gap; only the events a `LiveFilter` admits are loaded and rendered.

A stream is a plain `StreamingResponse` of already-encoded SSE events (`LiveStream`), not
FastAPI's `EventSourceResponse` generator route: that one moves each item of each stream
through two anyio memory streams, two tasks and a timeout scope to insert its keep-alives,
which with ten streams at 500 events/s cost more of the core than rendering and reading
(py-spy, bench/live). Here an event's SSE bytes are made once for every stream that sends the
same fragment (`encoded`), and a stream idle for `PING_SECONDS` sends the same keep-alive
comment FastAPI's does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import lru_cache

from fastapi import Request
from fastapi.sse import KEEPALIVE_COMMENT, format_sse_event
from starlette.responses import StreamingResponse

from app.live import EVERY_EVENT, EventLogged, LiveFilter, Overflow, Revoked
from app.services.accounts import WebSession

Fragment = Callable[[EventLogged], Awaitable[str | None]]
PING_SECONDS = 15.0  # as FastAPI's EventSourceResponse (a proxy drops an idle connection)
REMEMBERED = 256  # encoded events: those the streams are sending now


class LiveStream(StreamingResponse):
    """An SSE response of already-encoded events, unbuffered by proxies."""

    media_type = "text/event-stream"

    def __init__(self, events: AsyncIterator[bytes]) -> None:
        super().__init__(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@lru_cache(maxsize=REMEMBERED)
def encoded(name: str, html: str) -> bytes:
    """The SSE event `name` carrying `html`, encoded once for every stream that sends it (the
    fragments are shared: app/services/live_reads.py's `shared_render`)."""
    return format_sse_event(data_str=html, event=name)


def live_stream(
    request: Request,
    session: WebSession,
    project_id: int,
    name: str,
    fragment: Fragment,
    *,
    wanted: LiveFilter = EVERY_EVENT,
    overflow: str = "",
    prefetch: Callable[[list[EventLogged]], None] | None = None,
) -> LiveStream:
    """The response of a live route: `name` events with the HTML that `fragment` makes of each
    committed event `wanted` admits (nothing when it answers None or ""), in commit order; an
    "overflow" event whose data is `overflow` after messages were lost. `prefetch` starts the
    reads `fragment` will need for several events at once. A client that leaves cancels the
    stream, which releases its bus subscription at once."""
    events = _events(request, session, project_id, name, fragment, wanted, overflow, prefetch)
    return LiveStream(events)


async def _events(
    request: Request,
    session: WebSession,
    project_id: int,
    name: str,
    fragment: Fragment,
    wanted: LiveFilter,
    overflow: str,
    prefetch: Callable[[list[EventLogged]], None] | None,
) -> AsyncIterator[bytes]:
    live = request.app.state.live
    lost = format_sse_event(data_str=overflow, event="overflow")
    async with live.subscribe(project_id, credential=session.credential) as subscription:
        while True:
            if subscription.pending():
                batch = await subscription.get_many()
            else:  # idle: wait, with a keep-alive now and then
                try:
                    async with asyncio.timeout(PING_SECONDS):
                        batch = await subscription.get_many()
                except TimeoutError:
                    yield KEEPALIVE_COMMENT
                    continue
            admitted = [m for m in batch if isinstance(m, EventLogged) and wanted.admits(m)]
            if prefetch is not None and len(admitted) > 1:
                prefetch(admitted)
            # The batch's events in one write: a stream that fell behind catches up cheaply.
            chunks = []
            for message in batch:
                if isinstance(message, Revoked) or subscription.revoked:
                    break  # logged out or expired: end the stream
                if isinstance(message, Overflow):
                    chunks.append(lost)
                elif isinstance(message, EventLogged) and wanted.admits(message):
                    html = await fragment(message)
                    if html:
                        chunks.append(encoded(name, html))
            if chunks:
                yield chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if subscription.revoked or isinstance(batch[-1], Revoked):
                return
