"""The GraphQL object types: Event, Session, Feedback, EndUser, Project and their connections.

Each type is built from a read-service view (`from_view`); relational fields resolve through
the request's dataloaders, so a page of 50 events with their feedback and session costs three
queries, not 101.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types.base import get_object_definition

from app.schema.context import PhosphoInfo
from app.schema.inputs import EventStatus, event_status, page_size
from app.schema.loaders import load_existing
from app.schema.scalars import BigInt
from app.schema.selection import event_text
from app.services import reads
from app.services.reads import EventView, FeedbackView, Page, SessionView

T = TypeVar("T")
V = TypeVar("V")
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
    page: Page[V], node: Callable[[V], T], count: Callable[[], Awaitable[int]]
) -> Connection[T]:
    """A Connection of a service page: each item made a `node`, with the page's cursor of it;
    `count` answers `totalCount` when it is asked for."""
    cursor = page.cursor
    return Connection(
        edges=[Edge(cursor=cursor(item), node=node(item)) for item in page.items],
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        _count=count,
    )


# The fields of a Strawberry type that `mirror` copies, by type.
_PLAIN_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def mirror(cls: type[T], view: Any) -> T:
    """An object of GraphQL type `cls` whose fields are the same-named attributes of `view`,
    for types that mirror a service view one to one. It costs ~0.6 µs a row more than naming
    each field, so the types read for every event (Event, Session, Feedback) name theirs."""
    names = _PLAIN_FIELDS.get(cls)
    if names is None:  # once per type: the names of its fields without a resolver
        fields = get_object_definition(cls, strict=True).fields
        names = tuple(f.python_name for f in fields if f.base_resolver is None)
        _PLAIN_FIELDS[cls] = names
    return cls(**{name: getattr(view, name) for name in names})


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
    status: EventStatus | None = strawberry.field(
        description="OK or ERROR as the client (or the span's status) said; null when unknown."
    )
    error: str | None = strawberry.field(description="What went wrong, when the client said.")
    feedback_token: str | None = strawberry.field(
        default=None,
        description="A signed token that lets whoever holds it (a browser) rate this event "
        "with POST /api/v1/feedback, without an API key, until it expires "
        "(PHOSPHO_FEEDBACK_TOKEN_TTL_SECONDS). In the answer of logEvent and logEvents only; "
        "null when the event is read.",
    )

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
            status=event_status(view.status),
            error=view.error,
        )

    @strawberry.field(description="The event's tags, in the order they were sent.")
    async def tags(self, info: PhosphoInfo) -> list[str]:
        return await info.context.load().tags.load(uuid.UUID(self.id))

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
        loader = info.context.load().session
        return Session.from_view(await load_existing(loader, self.session_id, "session"))


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

        return connection(page, Event.from_view, count)


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
        return Event.from_view(await load_existing(loader, uuid.UUID(self.event_id), "event"))


@strawberry.type(description="An end user of the project's application (its `userId`).")
class EndUser:
    id: str
    event_count: int
    session_count: int
    first_seen: datetime
    last_seen: datetime
    positive_feedback: int
    negative_feedback: int


@strawberry.type(description="Headline counts; feedback counts each event's current feedback.")
class ProjectTotals:
    events: int
    sessions: int
    end_users: int
    positive_feedback: int
    negative_feedback: int


@strawberry.type(description="The project the API key belongs to.")
class Project:
    id: strawberry.ID
    name: str

    @strawberry.field(description="Counts of events, sessions, end users and feedback.")
    async def totals(self, info: PhosphoInfo) -> ProjectTotals:
        return mirror(ProjectTotals, await reads.project_totals(info.context.project_id))
