"""Reading sessions: the session list by latest activity, one session, batch loading."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.errors import Invalid, NotFound
from app.services.reads_common import (
    IN_CHUNK,
    IS_LATEST,
    Conditions,
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

SESSION_CURSOR = "session"
COLUMNS = "id, session_key, user_id, first_event_at, last_event_at, event_count"


@dataclass(frozen=True, slots=True)
class SessionView:
    """One conversation: `id` is the client's session id."""

    id: str
    user_id: str | None
    started_at: datetime
    last_event_at: datetime
    event_count: int


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """Which sessions to list: by end user, and by latest activity (since ≤ last < until)."""

    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Row:
    """A session with its internal row id, the tie-break of the keyset order."""

    row_id: int
    view: SessionView


def _to_row(row: dict[str, Any]) -> _Row:
    view = SessionView(
        id=row["session_key"],
        user_id=row["user_id"],
        started_at=parse_time(row["first_event_at"]),
        last_event_at=parse_time(row["last_event_at"]),
        event_count=int(row["event_count"]),
    )
    return _Row(int(row["id"]), view)


def _cursor(row: _Row) -> str:
    return encode_cursor(SESSION_CURSOR, row.view.last_event_at, row.row_id)


def _filter_sessions(d: Dialect, project_id: int, f: SessionFilter) -> Conditions:
    cond = Conditions()
    cond.add("project_id = ?", project_id)
    if f.user_id is not None:
        cond.add("user_id = ?", f.user_id)
    if f.since is not None:
        cond.add("last_event_at >= ?", db_time(d, f.since))
    if f.until is not None:
        cond.add("last_event_at < ?", db_time(d, f.until))
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
    d = dialect()
    f = filter or SessionFilter()
    cond = _filter_sessions(d, project_id, f)
    if after is not None:
        at, key = decode_cursor(SESSION_CURSOR, after)
        if not isinstance(key, int):
            raise Invalid("after is not a valid cursor")
        cond.add_after("last_event_at", "id", db_time(d, at), key, descending=True)
    sql = select(COLUMNS, "sessions", cond.sql, "ORDER BY last_event_at DESC, id DESC LIMIT ?")
    rows = [_to_row(row) for row in await fetch(d, sql, [*cond.params, limit + 1])]
    page = make_page(rows, limit, _cursor)
    total = await count_sessions(project_id, f) if with_total else None
    items = tuple(row.view for row in page.items)
    return Page(items, page.end_cursor, page.has_next_page, total)


async def count_sessions(project_id: int, filter: SessionFilter | None = None) -> int:
    """How many of a project's sessions match `filter`."""
    d = dialect()
    cond = _filter_sessions(d, project_id, filter or SessionFilter())
    rows = await fetch(d, select("COUNT(*) AS n", "sessions", cond.sql), cond.params)
    return int(rows[0]["n"])


async def get_session(project_id: int, session_id: str) -> SessionView:
    """One of the project's sessions by the client's session id; NotFound otherwise."""
    found = await sessions_by_keys(project_id, [session_id])
    if session_id not in found:
        raise NotFound("session not found")
    return found[session_id]


async def sessions_by_keys(project_id: int, keys: Sequence[str]) -> dict[str, SessionView]:
    """The project's sessions among these client session ids (unknown ones are left out)."""
    d = dialect()
    wanted = sorted(set(keys))
    found: dict[str, SessionView] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        part = wanted[start : start + IN_CHUNK]
        where = f"project_id = ? AND session_key IN ({in_list(len(part))})"
        sql = select(COLUMNS, "sessions", where)
        for row in await fetch(d, sql, [project_id, *part]):
            view = _to_row(row).view
            found[view.id] = view
    return found


async def feedback_by_session(project_id: int, keys: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(positive, negative) current-feedback counts of these sessions (a page: ≤ 100)."""
    if not keys:
        return {}
    d = dialect()
    where = (
        f"e.project_id = ? AND e.session_key IN ({in_list(len(keys))}) "
        f"AND {IS_LATEST.format(f='f')}"
    )
    columns = (
        "e.session_key AS session_key, COUNT(CASE WHEN f.score = 1 THEN 1 END) AS positive, "
        "COUNT(CASE WHEN f.score = 0 THEN 1 END) AS negative"
    )
    source = "events e JOIN feedback f ON f.event_id = e.id"
    sql = select(columns, source, where, "GROUP BY e.session_key")
    rows = await fetch(d, sql, [project_id, *keys])
    return {row["session_key"]: (int(row["positive"]), int(row["negative"])) for row in rows}
