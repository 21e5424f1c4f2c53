"""Reading events: the filtered event list, one event, a session's replay, batch loading."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from operator import attrgetter
from typing import Any, Literal, NamedTuple

from app.errors import Invalid, NotFound
from app.services import reads_search, reads_search_pg, search, sql
from app.services.event_fields import STATUSES
from app.services.pricing import NANO
from app.services.reads_budget import NO_PAGE, Read, ReadBudget, read_rows
from app.services.reads_pages import Keyset, Page, check_first, make_page
from app.services.sql import Conditions, Dialect, as_datetime, as_json, as_uuid

FeedbackState = Literal["positive", "negative", "none"]
Order = Literal["newest", "best"]  # of a searched list: newest first, or best match first
Source = tuple[str, tuple[Any, ...]]  # a FROM clause other than the table ("": the table)
LIGHT_COLUMNS = (
    "id, session_key, user_id, model, tokens_in, tokens_out, latency_ms, cost_nano, status, "
    "created_at"
)
# The columns that can be large: read only when asked for (and, with a budget, while they fit).
TEXT_COLUMNS = ("input", "output", "metadata", "error")
COLUMNS = f"{LIGHT_COLUMNS}, {', '.join(TEXT_COLUMNS)}"
# The events of one tag, read along the tag index (project, tag, created_at) and named
# `events`: a page of a tag costs O(page), however many events carry the tag. Its time and id
# are the tag row's (the event's own), so the list's order is the index's.
TAGGED = (
    "(SELECT t.event_id AS id, t.project_id, t.created_at, e.session_key, e.user_id, e.input, "
    "e.output, e.metadata, e.model, e.tokens_in, e.tokens_out, e.latency_ms, e.cost_nano, "
    "e.status, e.error, e.feedback_score FROM event_tags t JOIN events e ON e.id = t.event_id "
    "WHERE t.project_id = ? AND t.tag = ?) events"
)
TAGGED_WORDS = TAGGED.replace("e.feedback_score FROM", "e.feedback_score, e.search_vector FROM")


class EventView(NamedTuple):
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
    status: str | None = None  # "ok", "error" or None (unknown)
    error: str | None = None  # read only when asked for (a text column)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to list; every field set narrows the list (AND).

    `feedback` looks at each event's latest feedback (1 is positive, 0 negative) or its absence;
    `since` is inclusive, `until` exclusive; `search` is words, each of which must start a word
    of the input or the output, case-insensitively (app/services/search.py: the rule, the
    index, the bounds). `tag` is one of the event's tags, exactly; `status` is
    "ok" or "error" (events of unknown status match neither). Both are read along an index:
    a tag's rows of event_tags (project, tag, created_at) joined to their events
    (`event_source`), or events (project, status, created_at).
    """

    session_id: str | None = None
    user_id: str | None = None
    model: str | None = None
    feedback: FeedbackState | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None
    tag: str | None = None
    status: str | None = None


def to_event_view(row: dict[str, Any]) -> EventView:
    """An EventView from a row of `events` (text columns left out read as "" and None)."""
    latency = row["latency_ms"]
    return EventView(
        id=as_uuid(row["id"]),
        session_id=row["session_key"],
        user_id=row["user_id"],
        input=row.get("input") or "",
        output=row.get("output") or "",
        metadata=as_json(row.get("metadata")),
        model=row["model"],
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        latency_ms=float(latency) if latency is not None else None,
        created_at=as_datetime(row["created_at"]),
        cost_usd=row["cost_nano"] / NANO if row["cost_nano"] is not None else None,
        status=row["status"],
        error=row.get("error"),
    )


# The event list, newest first; a session's events, in conversation order (oldest first).
EVENTS: Keyset[EventView] = Keyset(
    "event", "created_at", "id", attrgetter("created_at", "id"), uuid.UUID
)
SESSION_EVENTS = replace(EVENTS, descending=False)


def event_cursor(event: EventView) -> str:
    """The cursor just after `event` (in either order of events)."""
    return EVENTS.cursor(event)


async def read_events(
    d: Dialect,
    cond: Conditions,
    *,
    text: Sequence[str],
    budget: ReadBudget | None,
    keyset: Keyset[EventView] | None = None,
    limit: int = NO_PAGE,
    source: Source = ("", ()),
) -> list[EventView]:
    """The events matching `cond` with the `text` columns asked for (others read as "" and
    None); with a `budget`, text is charged to it and read only while it fits. With a
    `keyset`, the first `limit` + 1 events in its order (a page and whether another follows).
    `source`: what to read from instead of the table (`event_source`)."""
    if not set(text) <= set(TEXT_COLUMNS):
        raise ValueError(f"unknown text columns {text}")
    params = [*source[1], *cond.params]
    read = Read("events", LIGHT_COLUMNS, text, cond.sql, params, source=source[0])
    if keyset is not None:
        read = read.paged(keyset, limit)
    return [to_event_view(row) for row in await read_rows(d, read, budget)]


def event_source(project_id: int, f: EventFilter) -> Source:
    """What a project's events matching `f` are read from, and its parameters: the events
    table, or with a tag filter the tag's index rows joined to their events (`TAGGED`)."""
    if f.tag is None:
        return "", ()
    # PostgreSQL's search reads the stored words (`search.PG_VECTOR`), a column SQLite lacks.
    tagged = TAGGED_WORDS if sql.dialect().postgres else TAGGED
    return tagged, (project_id, f.tag)


def filter_events(
    d: Dialect, project_id: int, f: EventFilter, *, with_search: bool = True
) -> Conditions:
    """The WHERE conditions of a project's events matching `f` (the tag: `event_source`;
    the search only `with_search`: a read along the search index applies it itself)."""
    cond = Conditions()
    cond.add("project_id = ?", project_id)
    cond.add_equal("session_key", f.session_id)
    cond.add_equal("user_id", f.user_id)
    cond.add_equal("model", f.model)
    if f.status is not None:
        if f.status not in STATUSES:
            raise Invalid("status must be 'ok' or 'error'")
        cond.add("status = ?", f.status)
    cond.add_range(d, "created_at", f.since, f.until)
    query = search.parse_query(f.search)
    if query and with_search:
        cond.add(*_as_clause(search.condition(d, query)))
    if f.feedback is not None:
        cond.add(_feedback_condition(f.feedback))
    return cond


# An event's current feedback score as the feedback commit keeps it (NULL: no feedback), so
# that the filter reads the index (project, feedback_score, created_at) newest first.
FEEDBACK_CONDITIONS = {
    "positive": "feedback_score = 1",
    "negative": "feedback_score = 0",
    "none": "feedback_score IS NULL",
}


def _as_clause(pair: tuple[str, list[str]]) -> tuple[str, ...]:
    return (pair[0], *pair[1])


def _feedback_condition(state: str) -> str:
    if state not in FEEDBACK_CONDITIONS:
        raise Invalid("feedback must be 'positive', 'negative' or 'none'")
    return FEEDBACK_CONDITIONS[state]


async def list_events(
    project_id: int,
    *,
    first: int = 50,
    after: str | None = None,
    filter: EventFilter | None = None,
    with_total: bool = False,
    text: Sequence[str] = TEXT_COLUMNS,
    budget: ReadBudget | None = None,
    order: Order = "newest",
) -> Page[EventView]:
    """A project's events matching `filter`, newest first; `with_total` also counts them.

    `text` names the text columns to read (others read as "" and None); a `budget` bounds
    them (ResponseTooLarge before loading more than it allows). `order="best"`, with a
    search: one page of the best matches (`reads_search.best_read`), no cursor."""
    limit = check_first(first)
    d = sql.dialect()
    f = filter or EventFilter()
    query = search.parse_query(f.search)
    if query and (order == "best" or not f.tag):
        rows = await _search_rows(d, project_id, f, query, after, limit, order, text, budget)
    else:
        cond = filter_events(d, project_id, f)
        EVENTS.add_after(d, cond, after)
        source = event_source(project_id, f)
        rows = await read_events(
            d, cond, text=text, budget=budget, keyset=EVENTS, limit=limit, source=source
        )
    total = await count_events(project_id, f) if with_total else None
    if order == "best" and query:
        return Page(tuple(rows[:limit]), None, False, total, EVENTS)
    return make_page(rows, limit, EVENTS, total)


async def _search_rows(
    d: Dialect, project_id: int, f: EventFilter, query: search.TextQuery, after: str | None,
    limit: int, order: Order, text: Sequence[str], budget: ReadBudget | None,
) -> list[EventView]:  # fmt: skip
    """A page read along the search index (`reads_search`), with the list's other filters;
    a tag filter reads the tag's events (`TAGGED`) in place of the table."""
    if not set(text) <= set(TEXT_COLUMNS):
        raise ValueError(f"unknown text columns {text}")
    cond = filter_events(d, project_id, f, with_search=False)
    if f.tag is not None:  # best match among a tag's events
        cond.add("id IN (SELECT event_id FROM event_tags WHERE project_id = ? AND tag = ?)",
                 project_id, f.tag)  # fmt: skip
    plan = None
    if d.postgres:
        plan = reads_search_pg.pg_plan(query, await reads_search_pg.word_stats())
    if order == "best":
        if after is not None:
            raise Invalid("best match is a single page: it takes no cursor")
        pool = None if plan is None else await reads_search_pg.pg_pool(query, cond, plan, limit)
        read = reads_search.best_read(d, query, cond, light=LIGHT_COLUMNS, text=text,
                                      limit=limit, pool=pool)  # fmt: skip
    elif plan is not None:
        EVENTS.add_after(d, cond, after)
        first, instead = reads_search_pg.pg_reads(query, cond, plan, light=LIGHT_COLUMNS,
                                                  text=text, limit=limit)  # fmt: skip
        rows = await read_rows(d, first, budget)
        if instead is not None and len(rows) <= limit:  # too few among the newest rows
            rows = await read_rows(d, instead, budget)
        return [to_event_view(row) for row in rows]
    else:
        read = reads_search.newest_read(d, query, cond, after=after, light=LIGHT_COLUMNS,
                                        text=text, limit=limit)  # fmt: skip
    return [to_event_view(row) for row in await read_rows(d, read, budget)]


async def count_events(project_id: int, filter: EventFilter | None = None) -> int:
    """How many of a project's events match `filter`."""
    d = sql.dialect()
    f = filter or EventFilter()
    cond = filter_events(d, project_id, f)
    source, params = event_source(project_id, f)
    rows = await sql.fetch(
        d, sql.select("COUNT(*) AS n", source or "events", cond.sql), [*params, *cond.params]
    )
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
    d = sql.dialect()
    cond = Conditions()
    cond.add("project_id = ? AND id = ?", project_id, d.uuid(target))
    rows = await read_events(d, cond, text=text, budget=budget)
    if not rows:
        raise NotFound("event not found")
    return rows[0]


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
    d = sql.dialect()
    cond = Conditions()
    cond.add("project_id = ? AND session_key = ?", project_id, session_id)
    SESSION_EVENTS.add_after(d, cond, after)
    rows = await read_events(d, cond, text=text, budget=budget, keyset=SESSION_EVENTS, limit=limit)
    return make_page(rows, limit, SESSION_EVENTS)


async def tags_of_events(project_id: int, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The tags of the project's events among `ids`, each event's in the order it was sent
    (events without tags are left out). At most 20 short tags an event: not budgeted."""
    d = sql.dialect()
    found: dict[uuid.UUID, list[str]] = {}
    for part in sql.in_chunks(sorted(set(ids))):
        # `+project_id`: without statistics SQLite would walk the project's whole tag index
        # (project, tag, created_at): 200 ms per page at 1M events (bench/dashboard). The unary
        # plus (a no-op for PostgreSQL) steers it to the unique (event_id, tag) index.
        where = f"+project_id = ? AND event_id IN ({sql.in_list(len(part))})"
        params = [project_id, *(d.uuid(value) for value in part)]
        rows = await sql.fetch(
            d, sql.select("event_id, tag", "event_tags", where, "ORDER BY id"), params
        )
        for row in rows:
            found.setdefault(as_uuid(row["event_id"]), []).append(row["tag"])
    return found


async def events_by_ids(
    project_id: int,
    ids: Sequence[uuid.UUID],
    *,
    text: Sequence[str] = TEXT_COLUMNS,
    budget: ReadBudget | None = None,
) -> dict[uuid.UUID, EventView]:
    """The project's events among `ids` (missing and other projects' ids are left out)."""
    d = sql.dialect()
    found: dict[uuid.UUID, EventView] = {}
    for part in sql.in_chunks(sorted(set(ids))):
        cond = Conditions()
        where = f"project_id = ? AND id IN ({sql.in_list(len(part))})"
        cond.add(where, project_id, *(d.uuid(value) for value in part))
        for event in await read_events(d, cond, text=text, budget=budget):
            found[event.id] = event
    return found
