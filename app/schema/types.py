"""The GraphQL object types: Event, Session, Feedback, EndUser, Project and their connections.

Each type is built from a read-service view (`from_view`); relational fields resolve through
the request's dataloaders, so a page of 50 events with their feedback and session costs three
queries, not 101.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types.base import get_object_definition

from app.errors import NotFound
from app.schema.context import PhosphoInfo
from app.schema.execution import NOT_READ, shortcut
from app.schema.inputs import EventStatus, event_status, page_size
from app.schema.loaders import load_existing
from app.schema.scalars import BigInt
from app.schema.selection import event_text, selected_names
from app.services import reads
from app.services.reads import EventView, FeedbackView, Page, SessionView

T = TypeVar("T")
RELATIONS = frozenset({"feedback", "latestFeedback", "session", "tags"})
FEEDBACK_FIELDS = frozenset({"feedback", "latestFeedback"})


class Missing(Enum):
    """A prefetched relation that does not exist (an event's session not found)."""

    MISSING = "missing"


MISSING = Missing.MISSING
V = TypeVar("V")
PAGE_NODE = ("edges", "node")  # where a connection's items are in its selection


@strawberry.type
class PageInfo:
    """Where a page ends and whether another follows."""

    has_next_page: bool
    end_cursor: str | None


@shortcut(lambda edge: edge._cursor_of(edge._item))
def _edge_cursor(root: Any) -> str:
    """An edge's cursor (`Edge.cursor`), made when asked for."""
    cursor: str = root._cursor_of(root._item)
    return cursor


@strawberry.type
class Edge(Generic[T]):
    """One item of a connection and the cursor just after it."""

    cursor: str = strawberry.field(resolver=_edge_cursor)
    node: T
    # The cursor is made when asked for (a session replay selects only nodes: encoding 100
    # cursors was ~5% of its server time).
    _item: strawberry.Private[Any]
    _cursor_of: strawberry.Private[Callable[[Any], str]]


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
        edges=[Edge(_item=item, _cursor_of=cursor, node=node(item)) for item in page.items],
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
    # Relations a list read for its whole page at once (`event_nodes`); None: not read, the
    # field goes through its dataloader. Answered from here, the field is not a coroutine:
    # 100 of them per page cost ~40% of its server time (tasks gathered per node).
    _feedback: strawberry.Private[list[FeedbackView] | None] = None
    _session: strawberry.Private[SessionView | Missing | None] = None
    _tags: strawberry.Private[list[str] | None] = None

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
    def tags(self, info: PhosphoInfo) -> list[str]:
        if self._tags is not None:
            return self._tags
        return _later(info.context.load().tags.load(uuid.UUID(self.id)))

    @strawberry.field(description="Every feedback on this event, oldest first.")
    @shortcut(lambda event: event._read_feedback())
    def feedback(self, info: PhosphoInfo) -> list[Feedback]:
        read = self._read_feedback()
        return _later(self._load_feedback(info)) if read is NOT_READ else read

    @strawberry.field(description="The event's current feedback: its latest, if any.")
    @shortcut(lambda event: event._read_latest_feedback())
    def latest_feedback(self, info: PhosphoInfo) -> Feedback | None:
        read = self._read_latest_feedback()
        return _later(self._load_latest_feedback(info)) if read is NOT_READ else read

    @strawberry.field(description="The conversation this event belongs to.")
    @shortcut(lambda event: event._read_session())
    def session(self, info: PhosphoInfo) -> Session:
        if self._session is MISSING:
            raise NotFound("session not found")
        read = self._read_session()
        return _later(self._load_session(info)) if read is NOT_READ else read

    # The prefetched relations as the executor's shortcuts read them (app/schema/execution.py):
    # NOT_READ sends the field to its resolver (a dataloader, or the session's NotFound).
    def _read_feedback(self) -> Any:
        if self._feedback is None:
            return NOT_READ
        return [Feedback.from_view(view) for view in self._feedback]

    def _read_latest_feedback(self) -> Any:
        if self._feedback is None:
            return NOT_READ
        return Feedback.from_view(self._feedback[-1]) if self._feedback else None

    def _read_session(self) -> Any:
        if self._session is None or self._session is MISSING:
            return NOT_READ
        return Session.from_view(self._session)

    async def _load_feedback(self, info: PhosphoInfo) -> list[Feedback]:
        views = await info.context.load().feedback.load(uuid.UUID(self.id))
        return [Feedback.from_view(view) for view in views]

    async def _load_latest_feedback(self, info: PhosphoInfo) -> Feedback | None:
        views = await info.context.load().feedback.load(uuid.UUID(self.id))
        return Feedback.from_view(views[-1]) if views else None

    async def _load_session(self, info: PhosphoInfo) -> Session:
        loader = info.context.load().session
        return Session.from_view(await load_existing(loader, self.session_id, "session"))


def _later(value: Awaitable[T]) -> T:
    """A relation's awaitable, returned by its resolver for graphql-core to await: the
    resolvers are plain functions so that a prefetched page answers without coroutines."""
    return cast("T", value)


async def event_nodes(info: PhosphoInfo, views: Sequence[EventView]) -> list[Event]:
    """The Events of a page's views, with the relations its nodes select (feedback, session,
    tags) read for the whole page at once, by the batch reads behind the request's loaders."""
    wanted = selected_names(info, PAGE_NODE)
    events = [Event.from_view(view) for view in views]
    if not events or not wanted & RELATIONS:
        return events
    loaders = info.context.load()
    ids = [view.id for view in views]
    reads_of: dict[str, Awaitable[Sequence[Any]]] = {}
    if wanted & FEEDBACK_FIELDS:
        reads_of["_feedback"] = loaders.feedback_of(ids)
    if "session" in wanted:
        reads_of["_session"] = loaders.sessions_of([view.session_id for view in views])
    if "tags" in wanted:
        reads_of["_tags"] = loaders.tags_of(ids)
    found = await asyncio.gather(*reads_of.values())
    for attribute, values in zip(reads_of, found, strict=True):
        if attribute == "_session":
            values = [value or MISSING for value in values]
        for event, value in zip(events, values, strict=True):
            setattr(event, attribute, value)
    return events


async def events_connection(
    info: PhosphoInfo, page: Page[EventView], count: Callable[[], Awaitable[int]]
) -> Connection[Event]:
    """A Connection of a page of events, its nodes' relations read at once (`event_nodes`)."""
    nodes = await event_nodes(info, page.items)
    cursor = page.cursor
    return Connection(
        edges=[
            Edge(_item=view, _cursor_of=cursor, node=node)
            for view, node in zip(page.items, nodes, strict=True)
        ],
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        _count=count,
    )


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

        return await events_connection(info, page, count)


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
