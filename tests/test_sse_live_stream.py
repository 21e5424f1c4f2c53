"""The dashboard's live stream response (web/live.py): SSE bytes encoded once per event for
every stream, keep-alives while idle, the end of the stream with its login session."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

import web.live
from app.live import EventLogged, LiveBus
from app.services.accounts import WebSession
from web.live import live_stream

SESSION = WebSession(session_id=5, user_id=1, email="a@example.com", project_id=1,
                     csrf_token="t")  # fmt: skip


def streams(bus: LiveBus, count: int) -> list[Any]:
    """`count` event streams of project 1, as the events page opens them (the request only
    carries the app's bus)."""
    request: Any = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(live=bus)))

    async def row(message: EventLogged) -> str:
        return f'<tr id="ev-{message.event_id}">\n</tr>'

    responses = [live_stream(request, SESSION, 1, "event", row) for _ in range(count)]
    return [response.body_iterator for response in responses]


def committed() -> EventLogged:
    """A just-committed event of project 1."""
    return EventLogged(1, uuid.uuid4(), "s", None, None, datetime.now(UTC))


async def test_every_stream_sends_the_same_encoded_event() -> None:
    bus = LiveBus()
    first, second = streams(bus, 2)
    pending = [asyncio.ensure_future(anext(first)), asyncio.ensure_future(anext(second))]
    await asyncio.sleep(0.01)  # both subscribed
    message = committed()
    bus.publish([message])
    chunks = await asyncio.gather(*pending)
    row = f'<tr id="ev-{message.event_id}">'
    assert chunks[0] == f"event: event\ndata: {row}\ndata: </tr>\n\n".encode()
    assert chunks[0] is chunks[1]  # encoded once for both
    for stream in (first, second):
        await stream.aclose()
    assert bus.subscriber_count() == 0


async def test_an_idle_stream_sends_keep_alives_and_ends_with_its_login(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web.live, "PING_SECONDS", 0.05)
    bus = LiveBus()
    (stream,) = streams(bus, 1)
    assert await asyncio.wait_for(anext(stream), 1) == b": ping\n\n"
    assert await asyncio.wait_for(anext(stream), 1) == b": ping\n\n"
    bus.revoke([SESSION.credential])
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(stream), 1)
    assert bus.subscriber_count() == 0


def test_the_response_is_an_unbuffered_event_stream() -> None:
    request: Any = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(live=LiveBus())))

    async def nothing(message: EventLogged) -> None:
        return None

    response = live_stream(request, SESSION, 1, "event", nothing)
    assert response.media_type == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
