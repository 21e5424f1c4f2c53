"""The live bus's revocation: subscriptions carry their credential and stop when it ends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from app.live import REVOKED, Credential, EventLogged, LiveBus

KEY = Credential("key", 7)
OTHER_KEY = Credential("key", 8)
LOGIN = Credential("login", 7)  # the same id, another kind: a different credential


def event(project_id: int) -> EventLogged:
    """A committed event of a project."""
    return EventLogged(project_id, uuid.uuid4(), "s", None, None, datetime.now(UTC))


async def test_a_waiting_reader_is_woken_by_the_revocation() -> None:
    bus = LiveBus()
    async with bus.subscribe(1, credential=KEY) as sub:
        waiting = asyncio.create_task(sub.get())
        await asyncio.sleep(0)
        assert bus.revoke([KEY]) == 1
        assert await asyncio.wait_for(waiting, 1) is REVOKED


async def test_queued_and_later_messages_are_not_delivered_after_it() -> None:
    bus = LiveBus()
    async with bus.subscribe(1, credential=KEY, max_queue=2) as sub:
        bus.publish([event(1), event(1), event(1)])  # the queue is full (and overflowed)
        bus.revoke([KEY])
        bus.publish([event(1)])
        assert [await sub.get() for _ in range(3)] == [REVOKED] * 3


async def test_only_that_credentials_subscriptions_end() -> None:
    bus = LiveBus()
    async with (
        bus.subscribe(1, credential=KEY) as first,
        bus.subscribe(2, credential=KEY) as second,
        bus.subscribe(1, credential=OTHER_KEY) as other,
        bus.subscribe(1, credential=LOGIN) as login,
        bus.subscribe(1) as anonymous,
    ):
        assert set(bus.credentials()) == {KEY, OTHER_KEY, LOGIN}
        assert bus.revoke([KEY]) == 2
        assert first.revoked and second.revoked
        assert not (other.revoked or login.revoked or anonymous.revoked)
        bus.publish([event(1)])
        for alive in (other, login, anonymous):
            assert isinstance(await alive.get(), EventLogged)
        assert set(bus.credentials()) == {OTHER_KEY, LOGIN}
    assert bus.credentials() == [] and bus.subscriber_count() == 0
