"""Per-request dataloaders: one batched read per relational field, whatever the page size.

Text is charged to the request's byte budget before it is loaded; events are loaded with the
text columns their selection asks for, one loader per set of columns.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from functools import cached_property
from typing import TypeVar

from strawberry.dataloader import DataLoader

from app.errors import NotFound
from app.services import reads
from app.services.reads import EventView, FeedbackView, SessionView
from app.services.reads_budget import ReadBudget

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
EventLoader = DataLoader[uuid.UUID, EventView | None]


async def load_existing(loader: DataLoader[K, V | None], key: K, what: str) -> V:
    """What `loader` holds for `key`; NotFound ("<what> not found") when it holds nothing."""
    value = await loader.load(key)
    if value is None:
        raise NotFound(f"{what} not found")
    return value


class Loaders:
    """The dataloaders of one request, all scoped to one project and sharing its budget."""

    def __init__(self, project_id: int, budget: ReadBudget) -> None:
        self.project_id = project_id
        self.budget = budget
        self._events: dict[tuple[str, ...], EventLoader] = {}

    # Made on first use: a loader holds its bound method, a reference cycle the collector must
    # clear, and a live subscription makes new loaders for every event it executes (most of
    # which use none of them; bench/live saw a 5-14 ms collection about once a second).
    @cached_property
    def feedback(self) -> DataLoader[uuid.UUID, list[FeedbackView]]:
        """Each event's feedback, batched."""
        return DataLoader(load_fn=self.feedback_of)

    @cached_property
    def session(self) -> DataLoader[str, SessionView | None]:
        """Sessions by key, batched."""
        return DataLoader(load_fn=self.sessions_of)

    @cached_property
    def tags(self) -> DataLoader[uuid.UUID, list[str]]:
        """Each event's tags, batched."""
        return DataLoader(load_fn=self.tags_of)

    def event(self, text: tuple[str, ...]) -> EventLoader:
        """The loader of events with these text columns (see `reads_events.TEXT_COLUMNS`)."""
        if text not in self._events:

            async def load(ids: Sequence[uuid.UUID]) -> list[EventView | None]:
                found = await reads.events_by_ids(
                    self.project_id, ids, text=text, budget=self.budget
                )
                return [found.get(event_id) for event_id in ids]

            self._events[text] = EventLoader(load_fn=load)
        return self._events[text]

    # The batch reads behind the loaders. A page reads its nodes' relations with them directly
    # (`types.event_nodes`): a loader's future per key cost ~8% of a page's server CPU.
    async def feedback_of(self, ids: Sequence[uuid.UUID]) -> list[list[FeedbackView]]:
        """Each event's feedback, oldest first, in the order of `ids`."""
        found = await reads.feedback_for_events(self.project_id, ids, budget=self.budget)
        return [found.get(event_id, []) for event_id in ids]

    async def tags_of(self, ids: Sequence[uuid.UUID]) -> list[list[str]]:
        """Each event's tags, in the order of `ids`."""
        found = await reads.tags_of_events(self.project_id, ids)
        return [found.get(event_id, []) for event_id in ids]

    async def sessions_of(self, keys: Sequence[str]) -> list[SessionView | None]:
        """Each session (None when unknown), in the order of `keys`."""
        found = await reads.sessions_by_keys(self.project_id, keys)
        return [found.get(key) for key in keys]
