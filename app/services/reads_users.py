"""Reading end users (the `user_id`s a project's application sends) and project totals.

End users have no table of their own: they are aggregated from the project's events. Feedback
counts look at each event's current (latest) feedback, as the event list's feedback filter does,
so an end user who changed their mind counts once, the latest way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.errors import Invalid
from app.services.reads_common import (
    IS_LATEST,
    Page,
    check_first,
    db_time,
    decode_cursor,
    dialect,
    encode_cursor,
    fetch,
    in_list,
    make_page,
    parse_time,
    select,
)
from app.services.store import Dialect

END_USER_CURSOR = "end_user"
# One statement; IS_LATEST written out with `f` as the feedback row.
TOTALS_SQL = (
    "SELECT (SELECT COUNT(*) FROM events WHERE project_id = ?) AS events, "
    "(SELECT COUNT(*) FROM sessions WHERE project_id = ?) AS sessions, "
    "(SELECT COUNT(*) FROM end_users WHERE project_id = ?) AS end_users, "
    "(SELECT COUNT(CASE WHEN f.score = 1 THEN 1 END) FROM feedback f "
    "WHERE f.project_id = ? AND NOT EXISTS (SELECT 1 FROM feedback nf "
    "WHERE nf.event_id = f.event_id AND (nf.created_at > f.created_at "
    "OR (nf.created_at = f.created_at AND nf.id > f.id)))) AS positive, "
    "(SELECT COUNT(CASE WHEN f.score = 0 THEN 1 END) FROM feedback f "
    "WHERE f.project_id = ? AND NOT EXISTS (SELECT 1 FROM feedback nf "
    "WHERE nf.event_id = f.event_id AND (nf.created_at > f.created_at "
    "OR (nf.created_at = f.created_at AND nf.id > f.id)))) AS negative"
)
USER_SCORE_COLUMNS = (
    "e.user_id AS user_id, COUNT(CASE WHEN f.score = 1 THEN 1 END) AS positive, "
    "COUNT(CASE WHEN f.score = 0 THEN 1 END) AS negative"
)


@dataclass(frozen=True, slots=True)
class EndUserView:
    """An end user of the project's application, with activity and current feedback counts."""

    id: str
    event_count: int
    session_count: int
    first_seen: datetime
    last_seen: datetime
    positive_feedback: int
    negative_feedback: int


@dataclass(frozen=True, slots=True)
class ProjectTotals:
    """Headline counts of a project; feedback counts each event's current feedback."""

    events: int
    sessions: int
    end_users: int
    positive_feedback: int
    negative_feedback: int


def _cursor(view: EndUserView) -> str:
    return encode_cursor(END_USER_CURSOR, view.last_seen, view.id)


async def list_end_users(
    project_id: int, *, first: int = 50, after: str | None = None
) -> Page[EndUserView]:
    """A project's end users, most recently seen first (read from the `end_users` table, which
    ingest keeps up to date, so a page costs the same at any number of events)."""
    limit = check_first(first)
    d = dialect()
    where = "project_id = ?"
    params: list[Any] = [project_id]
    if after is not None:
        at, key = decode_cursor(END_USER_CURSOR, after)
        if not isinstance(key, str):
            raise Invalid("after is not a valid cursor")
        where += " AND (last_seen < ? OR (last_seen = ? AND user_id < ?))"
        params += [db_time(d, at), db_time(d, at), key]
    columns = "user_id, event_count, first_seen, last_seen"
    tail = "ORDER BY last_seen DESC, user_id DESC LIMIT ?"
    rows = await fetch(d, select(columns, "end_users", where, tail), [*params, limit + 1])
    shown = [row["user_id"] for row in rows[:limit]]
    sessions = await _sessions_by_user(d, project_id, shown)
    scores = await _feedback_by_user(d, project_id, shown)
    views = [
        _to_view({**row, "session_count": sessions.get(row["user_id"], 0)},
                 scores.get(row["user_id"], (0, 0)))
        for row in rows
    ]  # fmt: skip
    return make_page(views, limit, _cursor)


async def _sessions_by_user(d: Dialect, project_id: int, user_ids: list[str]) -> dict[str, int]:
    """How many distinct sessions each of these end users' events belong to (a page: ≤ 100)."""
    if not user_ids:
        return {}
    where = f"project_id = ? AND user_id IN ({in_list(len(user_ids))})"
    columns = "user_id, COUNT(DISTINCT session_key) AS sessions"
    rows = await fetch(
        d, select(columns, "events", where, "GROUP BY user_id"), [project_id, *user_ids]
    )
    return {row["user_id"]: int(row["sessions"]) for row in rows}


def _to_view(row: dict[str, Any], scores: tuple[int, int]) -> EndUserView:
    return EndUserView(
        id=row["user_id"],
        event_count=int(row["event_count"]),
        session_count=int(row["session_count"]),
        first_seen=parse_time(row["first_seen"]),
        last_seen=parse_time(row["last_seen"]),
        positive_feedback=scores[0],
        negative_feedback=scores[1],
    )


async def _feedback_by_user(
    d: Dialect, project_id: int, user_ids: list[str]
) -> dict[str, tuple[int, int]]:
    """(positive, negative) current-feedback counts of these end users (a page: ≤ 100)."""
    if not user_ids:
        return {}
    where = (
        f"e.project_id = ? AND e.user_id IN ({in_list(len(user_ids))}) "
        f"AND {IS_LATEST.format(f='f')}"
    )
    source = "events e JOIN feedback f ON f.event_id = e.id"
    sql = select(USER_SCORE_COLUMNS, source, where, "GROUP BY e.user_id")
    rows = await fetch(d, sql, [project_id, *user_ids])
    return {row["user_id"]: (int(row["positive"]), int(row["negative"])) for row in rows}


async def project_totals(project_id: int) -> ProjectTotals:
    """Counts of a project's events, sessions, end users and current feedback (one query)."""
    d = dialect()
    row = (await fetch(d, TOTALS_SQL, [project_id] * 5))[0]
    return ProjectTotals(
        events=int(row["events"]),
        sessions=int(row["sessions"]),
        end_users=int(row["end_users"]),
        positive_feedback=int(row["positive"]),
        negative_feedback=int(row["negative"]),
    )
