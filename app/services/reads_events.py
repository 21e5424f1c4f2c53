"""Reading events: the filtered event list, one event, a session's replay, batch loading."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from app.errors import Invalid, NotFound
from app.services.pricing import NANO
from app.services.reads_budget import NO_PAGE, ReadBudget, TextRead, fetch_text, row_size
from app.services.reads_common import (
    IN_CHUNK,
    LATEST_SCORE,
    Conditions,
    Page,
    check_first,
    cursor_uuid,
    db_time,
    decode_cursor,
    dialect,
    encode_cursor,
    escape_like,
    fetch,
    in_list,
    make_page,
    parse_json,
    parse_time,
    parse_uuid,
    select,
)
from app.services.store import Dialect

EVENT_CURSOR = "event"
FeedbackState = Literal["positive", "negative", "none"]
LIGHT_COLUMNS = (
    "id, session_key, user_id, model, tokens_in, tokens_out, latency_ms, cost_nano, created_at"
)
# The columns that can be large: read only when asked for (and, with a budget, while they fit).
TEXT_COLUMNS = ("input", "output", "metadata")
COLUMNS = f"{LIGHT_COLUMNS}, {', '.join(TEXT_COLUMNS)}"


@dataclass(frozen=True, slots=True)
class EventView:
    """One stored event as readers see it."""

    id: uuid.UUID
    session_id: str
    user_id: str | None
    input: str
    output: str
    metadata: dict[str, Any] | None
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float | None
    created_at: datetime
    cost_usd: float | None = None  # estimated or client-given; None when unpriced or no tokens


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to list; every field set narrows the list (AND).

    `feedback` looks at each event's latest feedback (1 is positive, 0 negative) or its absence;
    `since` is inclusive, `until` exclusive; `search` is a case-insensitive substring of the
    input or the output, taken literally (`%` and `_` are not wildcards). On SQLite the case
    folding covers ASCII letters only.
    """

    session_id: str | None = None
    user_id: str | None = None
    model: str | None = None
    feedback: FeedbackState | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None


def to_event_view(row: dict[str, Any]) -> EventView:
    """An EventView from a row of COLUMNS (text columns left out read as "" and None)."""
    latency = row["latency_ms"]
    return EventView(
        id=parse_uuid(row["id"]),
        session_id=row["session_key"],
        user_id=row["user_id"],
        input=row.get("input") or "",
        output=row.get("output") or "",
        metadata=parse_json(row.get("metadata")),
        model=row["model"],
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        latency_ms=float(latency) if latency is not None else None,
        created_at=parse_time(row["created_at"]),
        cost_usd=row["cost_nano"] / NANO if row["cost_nano"] is not None else None,
    )


async def read_events(
    d: Dialect,
    where: str,
    params: Sequence[Any],
    tail: str = "",
    *,
    order: Sequence[str] = ("id",),
    text: Sequence[str] = TEXT_COLUMNS,
    budget: ReadBudget | None = None,
    page: int = NO_PAGE,
) -> list[dict[str, Any]]:
    """Event rows with the `text` columns asked for; with a `budget`, text is charged to it and
    read only while it fits (the first `page` rows are the answer, in `order`)."""
    if not set(text) <= set(TEXT_COLUMNS):
        raise ValueError(f"unknown text columns {text}")
    if budget is None or not text:
        columns = ", ".join([LIGHT_COLUMNS, *text])
        return await fetch(d, select(columns, "events", where, tail), params)
    light = select(f"{LIGHT_COLUMNS}, {row_size(d, text)} AS size", "events", where, tail)
    return await fetch_text(d, TextRead(light, params, "events", text, order, page), budget)


def event_cursor(event: EventView) -> str:
    """The cursor just after `event`."""
    return encode_cursor(EVENT_CURSOR, event.created_at, str(event.id))


def filter_events(d: Dialect, project_id: int, f: EventFilter) -> Conditions:
    """The WHERE conditions of a project's events matching `f`."""
    cond = Conditions()
    cond.add("project_id = ?", project_id)
    for column, value in (("session_key", f.session_id), ("user_id", f.user_id)):
        if value is not None:
            cond.add(f"{column} = ?", value)
    if f.model is not None:
        cond.add("model = ?", f.model)
    if f.since is not None:
        cond.add("created_at >= ?", db_time(d, f.since))
    if f.until is not None:
        cond.add("created_at < ?", db_time(d, f.until))
    if f.search:
        like = "ILIKE" if d.postgres else "LIKE"
        pattern = escape_like(f.search)
        cond.add(f"(input {like} ? ESCAPE '\\' OR output {like} ? ESCAPE '\\')", pattern, pattern)
    if f.feedback is not None:
        cond.add(_feedback_condition(f.feedback))
    return cond


def _feedback_condition(state: str) -> str:
    latest = LATEST_SCORE.format(event="events.id")
    if state == "positive":
        return f"{latest} = 1"
    if state == "negative":
        return f"{latest} = 0"
    if state == "none":
        return "NOT EXISTS (SELECT 1 FROM feedback xf WHERE xf.event_id = events.id)"
    raise Invalid("feedback must be 'positive', 'negative' or 'none'")


async def list_events(
    project_id: int,
    *,
    first: int = 50,
    after: str | None = None,
    filter: EventFilter | None = None,
    with_total: bool = False,
    text: Sequence[str] = TEXT_COLUMNS,
    budget: ReadBudget | None = None,
) -> Page[EventView]:
    """A project's events matching `filter`, newest first; `with_total` also counts them.

    `text` names the text columns to read (others read as "" and None); a `budget` bounds
    them (ResponseTooLarge before loading more than it allows)."""
    limit = check_first(first)
    d = dialect()
    f = filter or EventFilter()
    cond = filter_events(d, project_id, f)
    if after is not None:
        at, key = decode_cursor(EVENT_CURSOR, after)
        cond.add_after(
            "created_at", "id", db_time(d, at), d.uuid(cursor_uuid(key)), descending=True
        )
    tail = "ORDER BY created_at DESC, id DESC LIMIT ?"
    order = ("created_at DESC", "id DESC")
    rows = await read_events(
        d, cond.sql, [*cond.params, limit + 1], tail, order=order, text=text, budget=budget,
        page=limit,
    )  # fmt: skip
    total = await count_events(project_id, f) if with_total else None
    return make_page([to_event_view(row) for row in rows], limit, event_cursor, total)


async def count_events(project_id: int, filter: EventFilter | None = None) -> int:
    """How many of a project's events match `filter`."""
    d = dialect()
    cond = filter_events(d, project_id, filter or EventFilter())
    rows = await fetch(d, select("COUNT(*) AS n", "events", cond.sql), cond.params)
    return int(rows[0]["n"])


async def get_event(
    project_id: int,
    event_id: uuid.UUID | str,
    *,
    text: Sequence[str] = TEXT_COLUMNS,
    budget: ReadBudget | None = None,
) -> EventView:
    """One of the project's events; NotFound when unknown, malformed or another project's."""
    try:
        target = event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id))
    except ValueError:
        raise NotFound("event not found") from None
    d = dialect()
    where = "project_id = ? AND id = ?"
    rows = await read_events(d, where, [project_id, d.uuid(target)], text=text, budget=budget)
    if not rows:
        raise NotFound("event not found")
    return to_event_view(rows[0])


async def list_session_events(
    project_id: int,
    session_id: str,
    *,
    first: int = 50,
    after: str | None = None,
    text: Sequence[str] = TEXT_COLUMNS,
    budget: ReadBudget | None = None,
) -> Page[EventView]:
    """A session's events in conversation order (oldest first); empty for an unknown session."""
    limit = check_first(first)
    d = dialect()
    cond = Conditions()
    cond.add("project_id = ? AND session_key = ?", project_id, session_id)
    if after is not None:
        at, key = decode_cursor(EVENT_CURSOR, after)
        cond.add_after(
            "created_at", "id", db_time(d, at), d.uuid(cursor_uuid(key)), descending=False
        )
    rows = await read_events(
        d, cond.sql, [*cond.params, limit + 1], "ORDER BY created_at, id LIMIT ?",
        order=("created_at", "id"), text=text, budget=budget, page=limit,
    )  # fmt: skip
    return make_page([to_event_view(row) for row in rows], limit, event_cursor)


async def events_by_ids(
    project_id: int,
    ids: Sequence[uuid.UUID],
    *,
    text: Sequence[str] = TEXT_COLUMNS,
    budget: ReadBudget | None = None,
) -> dict[uuid.UUID, EventView]:
    """The project's events among `ids` (missing and other projects' ids are left out)."""
    d = dialect()
    wanted = sorted(set(ids))
    found: dict[uuid.UUID, EventView] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        part = wanted[start : start + IN_CHUNK]
        where = f"project_id = ? AND id IN ({in_list(len(part))})"
        params = [project_id, *(d.uuid(value) for value in part)]
        for row in await read_events(d, where, params, text=text, budget=budget):
            event = to_event_view(row)
            found[event.id] = event
    return found
