"""Reads the GraphQL API needs beyond `reads`: sessions with per-item cursors, feedback counts,
the project's name.

Relay connections give every edge its own cursor; a session's cursor holds its internal row
id, which `SessionView` does not carry, so the session list is re-read here with the cursors
kept (same SQL, conditions and order as `reads_sessions.list_sessions`).
"""

from __future__ import annotations

from app.db import reader
from app.errors import Invalid, NotFound
from app.services.reads_common import (
    Page,
    check_first,
    db_time,
    decode_cursor,
    dialect,
    fetch,
    make_page,
    select,
)
from app.services.reads_sessions import (
    COLUMNS as SESSION_COLUMNS,
)
from app.services.reads_sessions import (
    SESSION_CURSOR,
    SessionFilter,
    SessionView,
    _cursor,
    _filter_sessions,
    _to_row,
)
from models import Project


async def list_session_edges(
    project_id: int,
    *,
    first: int = 50,
    after: str | None = None,
    filter: SessionFilter | None = None,
) -> Page[tuple[str, SessionView]]:
    """`list_sessions`, each session paired with its own cursor (most recent first)."""
    limit = check_first(first)
    d = dialect()
    cond = _filter_sessions(d, project_id, filter or SessionFilter())
    if after is not None:
        at, key = decode_cursor(SESSION_CURSOR, after)
        if not isinstance(key, int):
            raise Invalid("after is not a valid cursor")
        cond.add_after("last_event_at", "id", db_time(d, at), key, descending=True)
    tail = "ORDER BY last_event_at DESC, id DESC LIMIT ?"
    sql = select(SESSION_COLUMNS, "sessions", cond.sql, tail)
    rows = [_to_row(row) for row in await fetch(d, sql, [*cond.params, limit + 1])]
    pairs = [(_cursor(row), row.view) for row in rows]
    return make_page(pairs, limit, lambda pair: pair[0])


async def project_name(project_id: int) -> str:
    """The project's display name; NotFound when it does not exist."""
    project = await Project.filter(id=project_id).using_db(reader()).first()
    if project is None:
        raise NotFound("project not found")
    name: str = project.name
    return name
