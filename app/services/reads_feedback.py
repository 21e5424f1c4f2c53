"""Reading feedback: the project's feedback list and each event's feedback (batch loader)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.errors import Invalid
from app.services.reads_budget import NO_PAGE, ReadBudget, TextRead, fetch_text, row_size
from app.services.reads_common import (
    IN_CHUNK,
    Conditions,
    Page,
    check_first,
    cursor_uuid,
    db_time,
    decode_cursor,
    dialect,
    encode_cursor,
    fetch,
    in_list,
    make_page,
    parse_time,
    parse_uuid,
    select,
)
from app.services.store import Dialect

FEEDBACK_CURSOR = "feedback"
LIGHT_COLUMNS = "id, event_id, score, created_at"
COLUMNS = f"{LIGHT_COLUMNS}, comment"


@dataclass(frozen=True, slots=True)
class FeedbackView:
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
        id=parse_uuid(row["id"]),
        event_id=parse_uuid(row["event_id"]),
        score=int(row["score"]),
        comment=row["comment"],
        created_at=parse_time(row["created_at"]),
    )


def _cursor(view: FeedbackView) -> str:
    return encode_cursor(FEEDBACK_CURSOR, view.created_at, str(view.id))


async def _read(
    d: Dialect,
    where: str,
    params: Sequence[Any],
    tail: str,
    order: Sequence[str],
    budget: ReadBudget | None,
    page: int,
) -> list[dict[str, Any]]:
    """Feedback rows; with a `budget`, comments (and rows) are charged and read while they fit."""
    if budget is None:
        return await fetch(d, select(COLUMNS, "feedback", where, tail), params)
    text = ("comment",)
    light = select(f"{LIGHT_COLUMNS}, {row_size(d, text)} AS size", "feedback", where, tail)
    return await fetch_text(d, TextRead(light, params, "feedback", text, order, page), budget)


def filter_feedback(d: Dialect, project_id: int, f: FeedbackFilter) -> Conditions:
    """The WHERE conditions of a project's feedback matching `f`."""
    cond = Conditions()
    cond.add("project_id = ?", project_id)
    if f.score is not None:
        if f.score not in (0, 1) or isinstance(f.score, bool):
            raise Invalid("score must be 0 or 1")
        cond.add("score = ?", f.score)
    if f.since is not None:
        cond.add("created_at >= ?", db_time(d, f.since))
    if f.until is not None:
        cond.add("created_at < ?", db_time(d, f.until))
    return cond


async def count_feedback(project_id: int, filter: FeedbackFilter | None = None) -> int:
    """How many of a project's feedback entries match `filter` (as `list_feedback` reads it)."""
    d = dialect()
    cond = filter_feedback(d, project_id, filter or FeedbackFilter())
    rows = await fetch(d, select("COUNT(*) AS n", "feedback", cond.sql), cond.params)
    return int(rows[0]["n"])


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
    d = dialect()
    cond = filter_feedback(d, project_id, filter or FeedbackFilter())
    if after is not None:
        at, key = decode_cursor(FEEDBACK_CURSOR, after)
        cond.add_after(
            "created_at", "id", db_time(d, at), d.uuid(cursor_uuid(key)), descending=True
        )
    tail = "ORDER BY created_at DESC, id DESC LIMIT ?"
    order = ("created_at DESC", "id DESC")
    rows = await _read(d, cond.sql, [*cond.params, limit + 1], tail, order, budget, limit)
    return make_page([_to_view(row) for row in rows], limit, _cursor)


async def feedback_for_events(
    project_id: int, event_ids: Sequence[uuid.UUID], *, budget: ReadBudget | None = None
) -> dict[uuid.UUID, list[FeedbackView]]:
    """Each requested event's feedback, oldest first (the last is current); [] when none.

    An event may have any number of feedback entries: with a `budget`, rows and comments are
    charged to it and read only while they fit."""
    d = dialect()
    wanted = sorted(set(event_ids))
    found: dict[uuid.UUID, list[FeedbackView]] = {event_id: [] for event_id in wanted}
    for start in range(0, len(wanted), IN_CHUNK):
        part = wanted[start : start + IN_CHUNK]
        # `+project_id`: without statistics SQLite would walk the project's whole feedback
        # index; the unary plus (a no-op for PostgreSQL) steers it to (event_id, created_at).
        where = f"+project_id = ? AND event_id IN ({in_list(len(part))})"
        params = [project_id, *(d.uuid(value) for value in part)]
        order = ("event_id", "created_at", "id")
        tail = "ORDER BY event_id, created_at, id"
        for row in await _read(d, where, params, tail, order, budget, NO_PAGE):
            view = _to_view(row)
            found[view.event_id].append(view)
    return found
