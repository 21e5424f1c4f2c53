"""GraphQL input types and enums, and their translation into the services' filters and bodies."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.live import LiveFilter
from app.services import reads
from app.services.search import CAP, MAX_QUERY_CHARS, MAX_QUERY_WORDS, parse_query

SEARCH = (
    "Words, each of which must start a word of the input or the output (AND), ignoring case; "
    "words are cut at every character that is not a letter or a digit, so 'gpt-4' finds "
    f"'GPT-4o'. The first {CAP:,} characters of each are searched. At most "
    f"{MAX_QUERY_CHARS} characters and {MAX_QUERY_WORDS} words; without a letter or digit, "
    "no filter."
)


@strawberry.enum(description="An event's current (latest) feedback, or its absence.")
class FeedbackState(Enum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    NONE = "none"


@strawberry.enum(description="Whether the LLM call succeeded; null on an event means unknown.")
class EventStatus(Enum):
    OK = "ok"
    ERROR = "error"


def event_status(value: str | None) -> EventStatus | None:
    """The GraphQL enum of a stored status (None: unknown)."""
    return EventStatus(value) if value is not None else None


@strawberry.input(description="Narrows the event list; every field set must match (AND).")
class EventFilter:
    session_id: str | None = None
    user_id: str | None = None
    model: str | None = None
    feedback: FeedbackState | None = None
    since: datetime | None = strawberry.field(default=None, description="Inclusive.")
    until: datetime | None = strawberry.field(default=None, description="Exclusive.")
    search: str | None = strawberry.field(default=None, description=SEARCH)
    tag: str | None = strawberry.field(default=None, description="One of the event's tags.")
    status: EventStatus | None = strawberry.field(
        default=None, description="Events of unknown status match neither OK nor ERROR."
    )

    def to_service(self) -> reads.EventFilter:
        """The read service's filter."""
        return reads.EventFilter(
            session_id=self.session_id,
            user_id=self.user_id,
            model=self.model,
            feedback=self.feedback.value if self.feedback else None,
            since=self.since,
            until=self.until,
            search=self.search,
            tag=self.tag,
            status=self.status.value if self.status else None,
        )


@strawberry.input(description="Narrows the session list (by latest activity).")
class SessionFilter:
    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_service(self) -> reads.SessionFilter:
        """The read service's filter."""
        return reads.SessionFilter(user_id=self.user_id, since=self.since, until=self.until)


@strawberry.input(description="Narrows the feedback list: score 0 or 1, time range.")
class FeedbackFilter:
    score: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_service(self) -> reads.FeedbackFilter:
        """The read service's filter."""
        return reads.FeedbackFilter(score=self.score, since=self.since, until=self.until)


@strawberry.input(description="Which live events to receive; every field set must match.")
class LiveEventFilter:
    session_id: str | None = None
    user_id: str | None = None
    model: str | None = None
    tag: str | None = strawberry.field(default=None, description="One of the event's tags.")
    status: EventStatus | None = None
    search: str | None = strawberry.field(default=None, description=SEARCH)

    def to_live(self) -> LiveFilter:
        """The live bus's filter (the one rule for live streams); an unusable search is
        refused here, when the subscription starts."""
        status = self.status.value if self.status else None
        search = self.search if parse_query(self.search) else None
        return LiveFilter(
            self.session_id, self.user_id, self.model, search=search, tag=self.tag, status=status
        )


@strawberry.input(description="One event to log, as `POST /api/v1/events` takes it.")
class LogEventInput:
    input: str
    output: str
    session_id: str | None = strawberry.UNSET
    user_id: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    event_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="A client-chosen UUID makes retries idempotent."
    )
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="At most 20 tags of 1 to 64 characters; repeats are dropped.",
    )
    status: EventStatus | None = strawberry.UNSET
    error: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="What went wrong (at most 4,096 characters); without a status, the status "
        "is ERROR; refused with status OK.",
    )

    def to_body(self) -> dict[str, Any]:
        """The REST body of this event (snake_case keys; unset fields left out)."""
        body: dict[str, Any] = {"input": self.input, "output": self.output}
        status = self.status.value if isinstance(self.status, EventStatus) else self.status
        optional = {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "metadata": self.metadata,
            "event_id": self.event_id,
            "tags": self.tags,
            "status": status,
            "error": self.error,
        }
        body.update({k: v for k, v in optional.items() if v is not strawberry.UNSET})
        return body


@strawberry.input(description="Feedback on one event: score 1 positive, 0 negative.")
class AddFeedbackInput:
    event_id: strawberry.ID
    score: int
    comment: str | None = None

    def to_body(self) -> dict[str, Any]:
        """The REST body of this feedback."""
        return {"score": self.score, "comment": self.comment}


def page_size(first: int | None) -> int:
    """`first` as the services take it: null means the default page of 50."""
    return 50 if first is None else first
