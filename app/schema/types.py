"""The GraphQL object types: Event, Session, Feedback, EndUser, Project and their connections.

Each type is built from a read-service view (`from_view`); relational fields resolve through
the request's dataloaders, so a page of 50 events with their feedback and session costs three
queries, not 101.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

import strawberry
from strawberry.scalars import JSON

from app.errors import NotFound
from app.schema.context import PhosphoInfo
from app.schema.inputs import page_size
from app.schema.scalars import BigInt
from app.schema.selection import event_text
from app.services import reads
from app.services.reads import (
    EndUserView,
    EventView,
    FeedbackView,
    Page,
    SessionView,
)
from app.services.reads_events import event_cursor

T = TypeVar("T")
PAGE_NODE = ("edges", "node")  # where a connection's items are in its selection


@strawberry.type
class PageInfo:
    """Where a page ends and whether another follows."""

    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    """One item of a connection and the cursor just after it."""

    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    """A page of a keyset-paginated list; pass `pageInfo.endCursor` as `after` for the next."""

    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list holds (counted on request).")
    async def total_count(self) -> int:
        return await self._count()


def connection(
    pairs: Sequence[tuple[str, T]], page: Page[Any], count: Callable[[], Awaitable[int]]
) -> Connection[T]:
    """A Connection from (cursor, node) pairs and the service page they came from."""
    return Connection(
        edges=[Edge(cursor=cursor, node=node) for cursor, node in pairs],
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        _count=count,
    )


def event_connection(
    page: Page[EventView], count: Callable[[], Awaitable[int]]
) -> Connection[Event]:
    """A Connection of events from a service page."""
    pairs = [(event_cursor(view), Event.from_view(view)) for view in page.items]
    return connection(pairs, page, count)


@strawberry.type(description="One logged LLM interaction.")
class Event:
    id: strawberry.ID
    input: str
    output: str
    session_id: str
    user_id: str | None
    metadata: JSON | None
    model: str | None
    tokens_in: BigInt | None
    tokens_out: BigInt | None
    latency_ms: float | None
    cost_usd: float | None = strawberry.field(
        description="Estimated cost in US dollars (from model and tokens, or the client's "
        "`cost_usd`); null when the model has no known price or the event has no tokens."
    )
    created_at: datetime

    @classmethod
    def from_view(cls, view: EventView) -> Event:
        """The GraphQL object of a stored event."""
        return cls(
            id=strawberry.ID(str(view.id)),
            input=view.input,
            output=view.output,
            session_id=view.session_id,
            user_id=view.user_id,
            metadata=cast("JSON", view.metadata),
            model=view.model,
            tokens_in=BigInt(view.tokens_in) if view.tokens_in is not None else None,
            tokens_out=BigInt(view.tokens_out) if view.tokens_out is not None else None,
            latency_ms=view.latency_ms,
            cost_usd=view.cost_usd,
            created_at=view.created_at,
        )

    @strawberry.field(description="Every feedback on this event, oldest first.")
    async def feedback(self, info: PhosphoInfo) -> list[Feedback]:
        views = await info.context.load().feedback.load(uuid.UUID(self.id))
        return [Feedback.from_view(view) for view in views]

    @strawberry.field(description="The event's current feedback: its latest, if any.")
    async def latest_feedback(self, info: PhosphoInfo) -> Feedback | None:
        views = await info.context.load().feedback.load(uuid.UUID(self.id))
        return Feedback.from_view(views[-1]) if views else None

    @strawberry.field(description="The conversation this event belongs to.")
    async def session(self, info: PhosphoInfo) -> Session:
        view = await info.context.load().session.load(self.session_id)
        if view is None:
            raise NotFound("session not found")
        return Session.from_view(view)


@strawberry.type(description="A conversation: the events sharing one session id.")
class Session:
    id: str
    user_id: str | None
    started_at: datetime
    last_event_at: datetime
    event_count: int

    @classmethod
    def from_view(cls, view: SessionView) -> Session:
        """The GraphQL object of a stored session."""
        return cls(
            id=view.id,
            user_id=view.user_id,
            started_at=view.started_at,
            last_event_at=view.last_event_at,
            event_count=view.event_count,
        )

    @strawberry.field(description="The session's events in conversation order (oldest first).")
    async def events(
        self, info: PhosphoInfo, first: int | None = 50, after: str | None = None
    ) -> Connection[Event]:
        ctx = info.context
        page = await reads.list_session_events(
            ctx.project_id,
            self.id,
            first=page_size(first),
            after=after,
            text=event_text(info, PAGE_NODE),
            budget=ctx.budget,
        )
        total = self.event_count

        async def count() -> int:
            return total

        return event_connection(page, count)


@strawberry.type(description="An end user's verdict on an event: score 1 positive, 0 negative.")
class Feedback:
    id: strawberry.ID
    event_id: strawberry.ID
    score: int
    comment: str | None
    created_at: datetime

    @classmethod
    def from_view(cls, view: FeedbackView) -> Feedback:
        """The GraphQL object of stored feedback."""
        return cls(
            id=strawberry.ID(str(view.id)),
            event_id=strawberry.ID(str(view.event_id)),
            score=view.score,
            comment=view.comment,
            created_at=view.created_at,
        )

    @strawberry.field(description="The event this feedback is about.")
    async def event(self, info: PhosphoInfo) -> Event:
        loader = info.context.load().event(event_text(info))
        view = await loader.load(uuid.UUID(self.event_id))
        if view is None:
            raise NotFound("event not found")
        return Event.from_view(view)


@strawberry.type(description="An end user of the project's application (its `userId`).")
class EndUser:
    id: str
    event_count: int
    session_count: int
    first_seen: datetime
    last_seen: datetime
    positive_feedback: int
    negative_feedback: int

    @classmethod
    def from_view(cls, view: EndUserView) -> EndUser:
        """The GraphQL object of an end user."""
        return cls(
            id=view.id,
            event_count=view.event_count,
            session_count=view.session_count,
            first_seen=view.first_seen,
            last_seen=view.last_seen,
            positive_feedback=view.positive_feedback,
            negative_feedback=view.negative_feedback,
        )


@strawberry.type(description="Headline counts; feedback counts each event's current feedback.")
class ProjectTotals:
    events: int
    sessions: int
    end_users: int
    positive_feedback: int
    negative_feedback: int

    @classmethod
    def from_view(cls, view: reads.ProjectTotals) -> ProjectTotals:
        """The GraphQL object of a project's totals."""
        return cls(
            events=view.events,
            sessions=view.sessions,
            end_users=view.end_users,
            positive_feedback=view.positive_feedback,
            negative_feedback=view.negative_feedback,
        )


@strawberry.type(description="The project the API key belongs to.")
class Project:
    id: strawberry.ID
    name: str

    @strawberry.field(description="Counts of events, sessions, end users and feedback.")
    async def totals(self, info: PhosphoInfo) -> ProjectTotals:
        return ProjectTotals.from_view(await reads.project_totals(info.context.project_id))
