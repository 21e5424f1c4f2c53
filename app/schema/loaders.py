"""Per-request dataloaders: one batched read per relational field, whatever the page size."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.services import reads
from app.services.reads import EventView, FeedbackView, SessionView


class Loaders:
    """The dataloaders of one request, all scoped to one project."""

    def __init__(self, project_id: int) -> None:
        self.project_id = project_id
        self.event = DataLoader[uuid.UUID, EventView | None](load_fn=self._events)
        self.feedback = DataLoader[uuid.UUID, list[FeedbackView]](load_fn=self._feedback)
        self.session = DataLoader[str, SessionView | None](load_fn=self._sessions)

    async def _events(self, ids: Sequence[uuid.UUID]) -> list[EventView | None]:
        found = await reads.events_by_ids(self.project_id, ids)
        return [found.get(event_id) for event_id in ids]

    async def _feedback(self, ids: Sequence[uuid.UUID]) -> list[list[FeedbackView]]:
        found = await reads.feedback_for_events(self.project_id, ids)
        return [found.get(event_id, []) for event_id in ids]

    async def _sessions(self, keys: Sequence[str]) -> list[SessionView | None]:
        found = await reads.sessions_by_keys(self.project_id, keys)
        return [found.get(key) for key in keys]
