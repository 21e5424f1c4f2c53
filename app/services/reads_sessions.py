"""Reading sessions: the session list by latest activity, one session, batch loading."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

from app.errors import NotFound
from app.services import sql
from app.services.reads_budget import Read, read_rows
from app.services.reads_feedback import current_feedback_by
from app.services.reads_pages import Keyset, Page, check_first, make_page
from app.services.sql import Conditions, Dialect, as_datetime

COLUMNS = "id, session_key, user_id, first_event_at, last_event_at, event_count"


class SessionView(NamedTuple):
    """One conversation: `id` is the client's session id."""

    id: str
    user_id: str | None
    started_at: datetime
    last_event_at: datetime
    event_count: int
    row_id: int  # the session's internal id: the tie-break of the session list's order


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """Which sessions to list: by end user, and by latest activity (since ≤ last < until)."""

    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _to_view(row: dict[str, Any]) -> SessionView:
    return SessionView(
        id=row["session_key"],
        user_id=row["user_id"],
        started_at=as_datetime(row["first_event_at"]),
        last_event_at=as_datetime(row["last_event_at"]),
        event_count=int(row["event_count"]),
        row_id=int(row["id"]),
    )


# The session list, most recently active first; the row id breaks ties.
SESSIONS: Keyset[SessionView] = Keyset(
    "session", "last_event_at", "id", attrgetter("last_event_at", "row_id"), int
)


def filter_sessions(d: Dialect, project_id: int, f: SessionFilter) -> Conditions:
    """The WHERE conditions of a project's sessions matching `f`."""
    cond = Conditions()
    cond.add("project_id = ?", project_id)
    cond.add_equal("user_id", f.user_id)
    cond.add_range(d, "last_event_at", f.since, f.until)
    return cond


async def list_sessions(
    project_id: int,
    *,
    first: int = 50,
    after: str | None = None,
    filter: SessionFilter | None = None,
    with_total: bool = False,
) -> Page[SessionView]:
    """A project's sessions, most recently active first; `with_total` also counts them."""
    limit = check_first(first)
    d = sql.dialect()
    f = filter or SessionFilter()
    cond = filter_sessions(d, project_id, f)
    SESSIONS.add_after(d, cond, after)
    read = Read("sessions", COLUMNS, (), cond.sql, cond.params).paged(SESSIONS, limit)
    views = [_to_view(row) for row in await read_rows(d, read, None)]
    total = await count_sessions(project_id, f) if with_total else None
    return make_page(views, limit, SESSIONS, total)


async def count_sessions(project_id: int, filter: SessionFilter | None = None) -> int:
    """How many of a project's sessions match `filter`."""
    d = sql.dialect()
    return await sql.count(d, "sessions", filter_sessions(d, project_id, filter or SessionFilter()))


async def get_session(project_id: int, session_id: str) -> SessionView:
    """One of the project's sessions by the client's session id; NotFound otherwise."""
    found = await sessions_by_keys(project_id, [session_id])
    if session_id not in found:
        raise NotFound("session not found")
    return found[session_id]


async def sessions_by_keys(project_id: int, keys: Sequence[str]) -> dict[str, SessionView]:
    """The project's sessions among these client session ids (unknown ones are left out)."""
    d = sql.dialect()
    found: dict[str, SessionView] = {}
    for part in sql.in_chunks(sorted(set(keys))):
        where = f"project_id = ? AND session_key IN ({sql.in_list(len(part))})"
        for row in await sql.fetch(d, sql.select(COLUMNS, "sessions", where), [project_id, *part]):
            view = _to_view(row)
            found[view.id] = view
    return found


async def feedback_by_session(project_id: int, keys: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(positive, negative) current-feedback counts of these sessions (a page: ≤ 100)."""
    return await current_feedback_by("session_key", project_id, keys)
