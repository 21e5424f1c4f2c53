"""The Subscription root: committed events and feedback pushed from the live bus.

Bus messages carry ids and the fields filtered on; each delivered event is read once per
process for all its subscribers (app/services/live_reads.py), and over WebSocket its frame is
executed and encoded once per group of identical subscriptions and written to the socket by
the resolver itself (app/schema/live_socket.py). A subscriber that fell behind
gets an error telling it to resynchronise, never a silent gap. Leaving the `async with`
(client gone, completed or cancelled) releases the bus subscription. When the caller's key is
revoked or its login session ends, the WebSocket is closed with 4403 (see
app/services/revocation.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from functools import partial
from typing import NoReturn

import strawberry
from starlette.websockets import WebSocket, WebSocketState
from strawberry.permission import BasePermission

from app.errors import PhosphoError, Unauthorized
from app.live import (
    EVERY_EVENT,
    EventLogged,
    FeedbackAdded,
    LiveFilter,
    LiveMessage,
    Overflow,
    Revoked,
)
from app.schema.context import PhosphoInfo
from app.schema.inputs import LiveEventFilter
from app.schema.live_socket import Frames
from app.schema.permissions import ProjectKey
from app.schema.types import Event, Feedback
from app.services.live_reads import live_event, prefetch_events
from app.services.revocation import ended_credentials

AUTH: list[type[BasePermission]] = [ProjectKey]
CLOSE_REVOKED = 4403  # as for a bad key at connection_init
REVOKED_MESSAGE = "the credentials of this connection were revoked or expired"


class ResyncRequired(PhosphoError):
    """The subscriber fell behind and lost messages."""

    code = "resync_required"


def _resync(missed: int) -> ResyncRequired:
    return ResyncRequired(
        f"this subscription fell behind and missed {missed} message(s); "
        "re-read what you need (e.g. Query.events) and subscribe again"
    )


async def _messages(
    info: PhosphoInfo, *, prefetch: LiveFilter | None = None
) -> AsyncGenerator[LiveMessage]:
    """The project's bus messages in commit order; raises ResyncRequired on overflow. With
    `prefetch`, the events it admits among messages already queued are read in one batch."""
    context = info.context
    credential = context.principal.credential
    # A connection outlives its credential: check it again before each new subscription.
    if credential is not None and await ended_credentials([credential]):
        await _close_revoked(context.request)
    async with context.bus.subscribe(context.project_id, credential=credential) as subscription:
        while True:
            batch = await subscription.get_many()
            if prefetch is not None and len(batch) > 1:
                admitted = [m for m in batch if isinstance(m, EventLogged) and prefetch.admits(m)]
                prefetch_events(context.bus, context.project_id, admitted)
            for message in batch:
                if isinstance(message, Revoked) or subscription.revoked:
                    await _close_revoked(context.request)
                if isinstance(message, Overflow):
                    raise _resync(message.missed)
                assert not isinstance(message, Revoked)
                yield message


async def _close_revoked(connection: object) -> NoReturn:
    """Close the WebSocket with 4403, then wait to be cancelled: Strawberry cancels every
    operation once the socket is closed (completing instead would write to a closed socket)."""
    if not isinstance(connection, WebSocket):
        raise Unauthorized(REVOKED_MESSAGE)  # a subscription over HTTP: end it with an error
    if connection.application_state == WebSocketState.CONNECTED:  # once per connection
        await connection.close(code=CLOSE_REVOKED, reason=REVOKED_MESSAGE)
    await asyncio.Event().wait()
    raise AssertionError("only cancellation ends the wait")


@strawberry.type
class Subscription:
    """Live data over WebSocket (`graphql-transport-ws`)."""

    @strawberry.subscription(permission_classes=AUTH, description="Events as they commit.")
    async def event_logged(
        self, info: PhosphoInfo, filter: LiveEventFilter | None = None
    ) -> AsyncGenerator[Event, None]:
        wanted = EVERY_EVENT
        if filter is not None:
            wanted = filter.to_live()
        frames = Frames.for_operation()  # over WebSocket: frames sent straight (live_socket.py)
        async for message in _messages(info, prefetch=wanted):
            if isinstance(message, EventLogged) and wanted.admits(message):
                # One read per event for every subscriber of the process (app/services/
                # live_reads.py); None when gone since it committed (never in normal operation).
                view = await live_event(info.context.bus, info.context.project_id, message.event_id)
                if view is None or not wanted.admits_text(view.input, view.output):
                    continue
                if frames is not None and await frames.send(
                    str(view.id), partial(Event.from_view, view)
                ):
                    continue
                # A fresh read per delivered message (no stale feedback), not per message the
                # filter drops.
                info.context.refresh_loaders()
                yield Event.from_view(view)

    @strawberry.subscription(permission_classes=AUTH, description="Feedback as it commits.")
    async def feedback_added(self, info: PhosphoInfo) -> AsyncGenerator[Feedback, None]:
        async for message in _messages(info):
            if isinstance(message, FeedbackAdded):
                info.context.refresh_loaders()  # a fresh read per message: no stale feedback
                views = await info.context.load().feedback.load(message.event_id)
                for view in views:
                    if view.id == message.feedback_id:
                        yield Feedback.from_view(view)
