"""The dashboard's live streams (SSE): the bus messages of the signed-in user's project, turned
into HTML fragments that htmx inserts as they arrive (never polled).

Every stream follows the same rules, kept here: a stream ends when its login session does
(logged out or expired: the bus says `Revoked`); a reader that fell behind gets an "overflow"
event, never a silent gap; only the events a `LiveFilter` admits are loaded and rendered.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable

from fastapi import Request
from fastapi.sse import ServerSentEvent

from app.live import EVERY_EVENT, EventLogged, LiveFilter, Overflow, Revoked
from app.services.accounts import WebSession

Fragment = Callable[[EventLogged], Awaitable[str | None]]


async def live_fragments(
    request: Request,
    session: WebSession,
    project_id: int,
    name: str,
    fragment: Fragment,
    *,
    wanted: LiveFilter = EVERY_EVENT,
    overflow: str = "",
) -> AsyncGenerator[ServerSentEvent]:
    """`name` events with the HTML that `fragment` makes of each committed event `wanted`
    admits (nothing when it answers None or ""), in commit order; an "overflow" event whose
    data is `overflow` after messages were lost. Routes yield from it inside `aclosing`, so a
    client that leaves releases its bus subscription at once."""
    live = request.app.state.live
    async with live.subscribe(project_id, credential=session.credential) as subscription:
        while True:
            message = await subscription.get()
            if isinstance(message, Revoked):  # logged out or expired: end the stream
                return
            if isinstance(message, Overflow):
                yield ServerSentEvent(raw_data=overflow, event="overflow")
            elif isinstance(message, EventLogged) and wanted.admits(message):
                html = await fragment(message)
                if html:
                    yield ServerSentEvent(raw_data=html, event=name)
