"""Reading feedback: the project's feedback list and each event's feedback (batch loader)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.errors import Invalid
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
COLUMNS = "id, event_id, score, comment, created_at"


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
) -> Page[FeedbackView]:
    """A project's feedback entries matching `filter`, newest first."""
    limit = check_first(first)
    d = dialect()
    cond = filter_feedback(d, project_id, filter or FeedbackFilter())
    if after is not None:
        at, key = decode_cursor(FEEDBACK_CURSOR, after)
        cond.add_after(
            "created_at", "id", db_time(d, at), d.uuid(cursor_uuid(key)), descending=True
        )
    sql = select(COLUMNS, "feedback", cond.sql, "ORDER BY created_at DESC, id DESC LIMIT ?")
    rows = await fetch(d, sql, [*cond.params, limit + 1])
    return make_page([_to_view(row) for row in rows], limit, _cursor)


async def feedback_for_events(
    project_id: int, event_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[FeedbackView]]:
    """Each requested event's feedback, oldest first (the last is current); [] when none."""
    d = dialect()
    wanted = sorted(set(event_ids))
    found: dict[uuid.UUID, list[FeedbackView]] = {event_id: [] for event_id in wanted}
    for start in range(0, len(wanted), IN_CHUNK):
        part = wanted[start : start + IN_CHUNK]
        # `+project_id`: without statistics SQLite would walk the project's whole feedback
        # index; the unary plus (a no-op for PostgreSQL) steers it to (event_id, created_at).
        where = f"+project_id = ? AND event_id IN ({in_list(len(part))})"
        sql = select(COLUMNS, "feedback", where, "ORDER BY event_id, created_at, id")
        for row in await fetch(d, sql, [project_id, *(d.uuid(value) for value in part)]):
            view = _to_view(row)
            found[view.event_id].append(view)
    return found
