"""What the write path queues and answers: prepared events, jobs and their results.

`prepare_event` runs when a request is parsed (validated input in, a row-to-be out, with what
the rollups will count of it), so the commit transaction does no per-event work it can avoid.
Jobs go to the group-commit writer (app/services/writer.py); the Ingestor's plan
(app/services/ingest.py) answers each with a result or an error.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from pydantic import TypeAdapter, ValidationError

from app.errors import Invalid
from app.ids import new_session_key, uuid7
from app.services import pricing
from app.services.event_fields import effective_status
from app.services.keys import Principal
from app.services.rollups import Figures, Rollups, figures_of
from app.services.sql import Dialect
from app.services.store import Plan
from app.services.validation import LogEventInput, TypedMetadata, typed_metadata, validate_event


class PreparedEvent(NamedTuple):
    """A validated event waiting for its commit (a NamedTuple: one is built for every event,
    ~2 µs cheaper than a frozen dataclass of 14 fields)."""

    id: uuid.UUID
    client_id: bool
    session_key: str
    user_id: str | None
    input: str
    output: str
    metadata_json: str | None
    typed: TypedMetadata
    cost_nano: int | None
    figures: Figures  # what the rollups count, computed here rather than in the commit
    tags: tuple[str, ...] = ()
    status: str | None = None  # "ok", "error" or None (unknown)
    error: str | None = None
    # The event's own time (an OpenTelemetry span's start), or None: the commit's time.
    # Stored as min(at, the commit's time): an event is never in the future.
    at: datetime | None = None

    def time(self, now: datetime) -> datetime:
        """When the event happened, for a commit at `now`."""
        at = self.at
        return now if at is None or at > now else at


class EventResult(NamedTuple):
    """What a client gets back for a stored event; `duplicate` marks an idempotent retry (a
    NamedTuple, like PreparedEvent: one per event, built on the writer thread)."""

    event_id: uuid.UUID
    session_id: str
    created_at: datetime
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    """What a client gets back for stored feedback."""

    feedback_id: uuid.UUID
    event_id: uuid.UUID
    score: int
    comment: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EventsJob:
    """Events from one request; they commit all together or not at all."""

    principal: Principal
    events: tuple[PreparedEvent, ...]

    @property
    def source(self) -> tuple[int, int]:
        """Who sent it (key and project): the writer quarantines a source whose job faulted."""
        return (self.principal.key_id, self.principal.project_id)


@dataclass(frozen=True, slots=True)
class FeedbackJob:
    """One feedback from one request."""

    principal: Principal
    feedback_id: uuid.UUID
    event_id: uuid.UUID
    score: int
    comment: str | None

    @property
    def source(self) -> tuple[int, int]:
        """Who sent it (key and project): the writer quarantines a source whose job faulted."""
        return (self.principal.key_id, self.principal.project_id)


@dataclass(frozen=True, slots=True)
class FoldJob:
    """Fold every fine rollup row into the coarser levels (SQLite, when the server stops)."""


@dataclass(frozen=True, slots=True)
class MaintenanceJob:
    """A write that no client's request makes (a retention sweep's chunk, an end user's
    erasure): it runs in the writer's transaction after the group's events and feedback, so on
    SQLite it queues behind ingest instead of contending for the database lock, and it shares
    the group's commit. `plan` gets the dialect, the transaction's `Rollups` and the commit's
    time, and its return value is the job's outcome. To refuse, it returns a PhosphoError
    (checked before it writes anything); anything it raises is a fault: its writes roll back
    and the job alone fails as a 500, after the writer's bisection."""

    project_id: int
    plan: Callable[[Dialect, Rollups, datetime], Plan[Any]]
    label: str  # for logs: what the job does

    @property
    def source(self) -> tuple[str, int]:
        """Quarantine key: maintenance of one project, never an API key's source."""
        return ("maintenance", self.project_id)


Job = EventsJob | FeedbackJob | FoldJob | MaintenanceJob


def prepare_event(
    event: LogEventInput, loc: tuple[Any, ...], at: datetime, *, occurred: datetime | None = None
) -> PreparedEvent:
    """Turn a validated input into a row-to-be: ids chosen, metadata typed and serialised, cost
    estimated at the prices of `at`. `occurred` is the event's own time, when it has one."""
    typed = typed_metadata(event.metadata, (*loc, "metadata"))
    cost: int | None
    if typed.cost_usd is not None:  # the client's own cost wins over the estimate
        cost = pricing.to_nano(typed.cost_usd)
    else:
        cost = pricing.cost_nano(typed.model, typed.tokens_in, typed.tokens_out, at)
    status = effective_status(event.status, event.error)
    figures = figures_of(
        typed.model, typed.tokens_in, typed.tokens_out, cost, typed.latency_ms, status
    )
    return PreparedEvent(
        id=event.event_id or uuid7(),
        client_id=event.event_id is not None,
        session_key=event.session_id or new_session_key(),
        user_id=event.user_id,
        input=event.input,
        output=event.output,
        metadata_json=orjson.dumps(event.metadata).decode() if event.metadata is not None else None,
        typed=typed,
        cost_nano=cost,
        figures=figures,
        tags=tuple(event.tags or ()),
        status=status,
        error=event.error,
        at=occurred,
    )


_EVENT_LIST = TypeAdapter(list[LogEventInput])


def validate_each(bodies: list[Any], loc: tuple[Any, ...]) -> list[LogEventInput | Invalid]:
    """Validate events each on its own (item `i` is named `(*loc, i)`): its input, or the
    `Invalid` it is. All valid, the usual case, costs one pydantic call (~1 µs an event less
    than one call each); otherwise each is validated alone, for its own answer."""
    if all(type(body) is dict for body in bodies):
        try:
            return list(_EVENT_LIST.validate_python(bodies))
        except ValidationError:
            pass
    results: list[LogEventInput | Invalid] = []
    for index, body in enumerate(bodies):
        try:
            results.append(validate_event(body, (*loc, index)))
        except Invalid as exc:
            results.append(exc)
    return results
