"""Reading end users (the `user_id`s a project's application sends).

End users are kept by ingest in the `end_users` table (activity counts and times); their
sessions are counted from the `sessions` table (those whose end user they are: what the
sessions list filtered by that user shows) and their feedback from the project's events.
Feedback counts look at each event's current (latest) feedback, as the event list's feedback
filter does, so an end user who changed their mind counts once, the latest way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from app.services import sql
from app.services.reads_budget import Read, read_rows
from app.services.reads_feedback import current_feedback_by
from app.services.reads_pages import Keyset, Page, check_first, make_page
from app.services.sql import Conditions, Dialect, as_datetime


@dataclass(frozen=True, slots=True)
class EndUserView:
    """An end user of the project's application, with activity and current feedback counts."""

    id: str  # the application's `user_id`
    event_count: int
    session_count: int  # sessions whose end user (the last `user_id` given in it) this is
    first_seen: datetime
    last_seen: datetime
    positive_feedback: int  # of its events' current feedback
    negative_feedback: int


@dataclass(frozen=True, slots=True)
class EndUserFilter:
    """Which end users to list: one `user_id` exactly (the unique index), and by last activity
    (since ≤ last_seen < until, along the (project, last_seen) index the list pages by)."""

    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


# The end-user list, most recently seen first.
END_USERS: Keyset[EndUserView] = Keyset(
    "end_user", "last_seen", "user_id", attrgetter("last_seen", "id")
)


async def list_end_users(
    project_id: int,
    *,
    first: int = 50,
    after: str | None = None,
    filter: EndUserFilter | None = None,
) -> Page[EndUserView]:
    """A project's end users, most recently seen first (read from the `end_users` table, which
    ingest keeps up to date, so a page costs the same at any number of events)."""
    limit = check_first(first)
    d = sql.dialect()
    f = filter or EndUserFilter()
    cond = Conditions()
    cond.add("project_id = ?", project_id)
    cond.add_equal("user_id", f.user_id)
    cond.add_range(d, "last_seen", f.since, f.until)
    END_USERS.add_after(d, cond, after)
    columns = "user_id, event_count, first_seen, last_seen"
    read = Read("end_users", columns, (), cond.sql, cond.params).paged(END_USERS, limit)
    rows = await read_rows(d, read, None)
    shown = [row["user_id"] for row in rows[:limit]]
    sessions = await _sessions_by_user(d, project_id, shown)
    scores = await current_feedback_by("user_id", project_id, shown)
    views = [_to_view(row, sessions, scores) for row in rows]
    return make_page(views, limit, END_USERS)


async def get_end_user(project_id: int, user_id: str) -> EndUserView | None:
    """One end user of a project (its page), or None."""
    d = sql.dialect()
    columns = "user_id, event_count, first_seen, last_seen"
    rows = await sql.fetch(
        d, sql.select(columns, "end_users", "project_id = ? AND user_id = ?"), [project_id, user_id]
    )
    if not rows:
        return None
    sessions = await _sessions_by_user(d, project_id, [user_id])
    scores = await current_feedback_by("user_id", project_id, [user_id])
    return _to_view(rows[0], sessions, scores)


async def _sessions_by_user(d: Dialect, project_id: int, user_ids: list[str]) -> dict[str, int]:
    """How many sessions each of these end users (a page: ≤ 100) is the end user of: what the
    sessions list filtered by the user shows, counted along the sessions' (project, user_id,
    last_event_at) index. (Counting the distinct sessions of the users' events read every
    event of theirs: 70-125 ms for a page of 50 at 1M events on PostgreSQL, bench/dashboard.)"""
    if not user_ids:
        return {}
    where = f"project_id = ? AND user_id IN ({sql.in_list(len(user_ids))})"
    columns = "user_id, COUNT(*) AS sessions"
    statement = sql.select(columns, "sessions", where, "GROUP BY user_id")
    rows = await sql.fetch(d, statement, [project_id, *user_ids])
    return {row["user_id"]: int(row["sessions"]) for row in rows}


def _to_view(
    row: dict[str, Any], sessions: dict[str, int], scores: dict[str, tuple[int, int]]
) -> EndUserView:
    user_id = row["user_id"]
    positive, negative = scores.get(user_id, (0, 0))
    return EndUserView(
        id=user_id,
        event_count=int(row["event_count"]),
        session_count=sessions.get(user_id, 0),
        first_seen=as_datetime(row["first_seen"]),
        last_seen=as_datetime(row["last_seen"]),
        positive_feedback=positive,
        negative_feedback=negative,
    )
