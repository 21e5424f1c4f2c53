"""What live streams show of a just-committed event, read once per process for every stream.

Each subscriber (GraphQL `eventLogged`, the dashboard's event rows) used to read every event it
showed back from the database on its own: n subscribers, n reads per event. These reads go
through the bus's `SharedLoads` (app/live.py): one batched read per commit's events, shared by
every subscriber of the process. The key holds the project, and the read is scoped to it, so a
subscriber never gets another project's event.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TypeVar

from app.live import EventLogged, LiveBus
from app.services.reads_events import EventView, events_by_ids

EventKey = tuple[int, uuid.UUID]  # (project id, event id)
H = TypeVar("H", bound=Hashable)


async def _read_events(keys: list[EventKey]) -> dict[EventKey, EventView]:
    """One read per project among `keys`, whatever the number of subscribers."""
    by_project: dict[int, list[uuid.UUID]] = defaultdict(list)
    for project_id, event_id in keys:
        by_project[project_id].append(event_id)
    found: dict[EventKey, EventView] = {}
    for project_id, ids in by_project.items():
        for event_id, view in (await events_by_ids(project_id, ids)).items():
            found[(project_id, event_id)] = view
    return found


async def live_event(bus: LiveBus, project_id: int, event_id: uuid.UUID) -> EventView | None:
    """The project's just-committed event (None when it is not the project's, or gone)."""
    return await bus.shared("events", _read_events, _text_length).load((project_id, event_id))


def prefetch_events(bus: LiveBus, project_id: int, messages: Iterable[object]) -> None:
    """Start reading the events of these bus messages in one batch (a stream catching up on
    several queued messages reads them together, not one by one)."""
    keys = [(project_id, m.event_id) for m in messages if isinstance(m, EventLogged)]
    if len(keys) > 1:
        bus.shared("events", _read_events, _text_length).prefetch(keys)


def _text_length(view: EventView) -> int:
    """What a remembered event weighs: its text (the rest is small)."""
    return len(view.input) + len(view.output) + len(view.error or "") + 200


def shared_render(
    bus: LiveBus, name: str, render: Callable[[H], Awaitable[str | None]]
) -> Callable[[H], Awaitable[str | None]]:
    """`render`, run once per key (an event, with what else the fragment shows of it) for
    every stream of the process that shows `name`; keys hold the project."""

    async def batch(keys: list[H]) -> dict[H, str | None]:
        return {key: await render(key) for key in keys}

    loads = bus.shared(name, batch, lambda html: len(html or ""))
    return loads.load
