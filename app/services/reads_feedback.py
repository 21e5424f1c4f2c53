"""Reading feedback: the project's feedback list and each event's feedback (batch loader)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

from app.errors import Invalid
from app.services import sql
from app.services.reads_budget import Read, ReadBudget, read_rows
from app.services.reads_pages import Keyset, Page, check_first, make_page
from app.services.sql import Conditions, Dialect, as_datetime, as_uuid

LIGHT_COLUMNS = "id, event_id, score, created_at"
TEXT_COLUMNS = ("comment",)


class FeedbackView(NamedTuple):
    """One feedback entry: score 1 is positive, 0 negative."""

    id: uuid.UUID
    event_id: uuid.UUID
    score: int
    comment: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackFilter:
    """Which feedback to list: by score (0 or 1) and time (since inclusive, until exclusive)."""

    score: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _to_view(row: dict[str, Any]) -> FeedbackView:
    return FeedbackView(
        id=as_uuid(row["id"]),
        event_id=as_uuid(row["event_id"]),
        score=int(row["score"]),
        comment=row["comment"],
        created_at=as_datetime(row["created_at"]),
    )


# The feedback list, newest first.
FEEDBACK: Keyset[FeedbackView] = Keyset(
    "feedback", "created_at", "id", attrgetter("created_at", "id"), uuid.UUID
)


async def _read(d: Dialect, read: Read, budget: ReadBudget | None) -> list[FeedbackView]:
    """Feedback rows; with a `budget`, comments (and rows) are charged and read while they fit."""
    return [_to_view(row) for row in await read_rows(d, read, budget)]


def filter_feedback(d: Dialect, project_id: int, f: FeedbackFilter) -> Conditions:
    """The WHERE conditions of a project's feedback matching `f`."""
    cond = Conditions()
    cond.add("project_id = ?", project_id)
    if f.score is not None:
        if f.score not in (0, 1) or isinstance(f.score, bool):
            raise Invalid("score must be 0 or 1")
        cond.add("score = ?", f.score)
    cond.add_range(d, "created_at", f.since, f.until)
    return cond


async def count_feedback(project_id: int, filter: FeedbackFilter | None = None) -> int:
    """How many of a project's feedback entries match `filter` (as `list_feedback` reads it)."""
    d = sql.dialect()
    return await sql.count(
        d, "feedback", filter_feedback(d, project_id, filter or FeedbackFilter())
    )


async def list_feedback(
    project_id: int,
    *,
    first: int = 50,
    after: str | None = None,
    filter: FeedbackFilter | None = None,
    budget: ReadBudget | None = None,
) -> Page[FeedbackView]:
    """A project's feedback entries matching `filter`, newest first (comments charged to
    `budget` when one is given)."""
    limit = check_first(first)
    d = sql.dialect()
    cond = filter_feedback(d, project_id, filter or FeedbackFilter())
    FEEDBACK.add_after(d, cond, after)
    read = Read("feedback", LIGHT_COLUMNS, TEXT_COLUMNS, cond.sql, cond.params)
    return make_page(await _read(d, read.paged(FEEDBACK, limit), budget), limit, FEEDBACK)


async def feedback_for_events(
    project_id: int, event_ids: Sequence[uuid.UUID], *, budget: ReadBudget | None = None
) -> dict[uuid.UUID, list[FeedbackView]]:
    """Each requested event's feedback, oldest first (the last is current); [] when none.

    An event may have any number of feedback entries: with a `budget`, rows and comments are
    charged to it and read only while they fit."""
    d = sql.dialect()
    wanted = sorted(set(event_ids))
    found: dict[uuid.UUID, list[FeedbackView]] = {event_id: [] for event_id in wanted}
    order = ("event_id", "created_at", "id")
    for part in sql.in_chunks(wanted):
        # `+project_id`: without statistics SQLite would walk the project's whole feedback
        # index; the unary plus (a no-op for PostgreSQL) steers it to (event_id, created_at).
        where = f"+project_id = ? AND event_id IN ({sql.in_list(len(part))})"
        params = [project_id, *(d.uuid(value) for value in part)]
        read = Read("feedback", LIGHT_COLUMNS, TEXT_COLUMNS, where, params)
        read = replace(read, tail=f"ORDER BY {', '.join(order)}", order=order)
        for view in await _read(d, read, budget):
            found[view.event_id].append(view)
    return found


async def current_feedback_by(
    column: str, project_id: int, values: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """(positive, negative) counts of the current feedback of the project's events whose
    `column` ("session_key" or "user_id") is one of `values` (a page of them: ≤ 100).

    Read from `events.feedback_score` (each event's current score, kept by the feedback
    commit), along (project, session_key, …) or (project, user_id, session_key, feedback_score):
    never the feedback table, whose latest-row check cost ~0.2 s for a page of end users at
    1M events (bench/dashboard)."""
    if not values:
        return {}
    d = sql.dialect()
    where = (
        f"project_id = ? AND {column} IN ({sql.in_list(len(values))}) "
        "AND feedback_score IS NOT NULL"
    )
    columns = (
        f"{column} AS grouped, COUNT(CASE WHEN feedback_score = 1 THEN 1 END) AS positive, "
        "COUNT(CASE WHEN feedback_score = 0 THEN 1 END) AS negative"
    )
    statement = sql.select(columns, "events", where, f"GROUP BY {column}")
    rows = await sql.fetch(d, statement, [project_id, *values])
    return {row["grouped"]: (int(row["positive"]), int(row["negative"])) for row in rows}
