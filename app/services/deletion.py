"""Deleting events and what hangs on them, as plan pieces (`store.Plan`) that run inside a
write transaction (a `MaintenanceJob`'s plan): shared by the retention sweep
(app/services/retention.py) and end-user erasure.

- `delete_events(d, project_id, ids)`: one project's events by id, with their feedback and
  tags; then the sessions and end users they belonged to are settled (`settle`).
- `settle(d, project_id, sessions, users)`: sessions and end users without any event left
  are deleted; the others lose the events deleted from them off their event count (given per
  key: a decrement, never a COUNT over what remains, which would read every event of a
  million-event end user at each chunk) and get their first/last times from the events that
  remain (MIN/MAX, one index lookup each).

The rollups are NOT touched here: retention keeps them (the Overview's history), erasure
subtracts what it removes itself. Ids are given in their stored form (what a SELECT of
`events.id` returns, or `Dialect.uuid(value)`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from app.services.sql import Dialect
from app.services.store import Plan, Query, chunks

# Several statements name the same ids: keep each well inside the bound-parameter limit.
IN_SIZE = 5_000


@dataclass(slots=True)
class Deleted:
    """Rows deleted (sessions and end users: deleted because no event of theirs was left)."""

    events: int = 0
    feedback: int = 0
    tags: int = 0
    sessions: int = 0
    end_users: int = 0

    def add(self, other: Deleted) -> None:
        """Add `other`'s counts to these."""
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def as_dict(self) -> dict[str, int]:
        """The counts by name (for JSON answers and CLI output)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


# Statements of one chunk; `_sql` fills in `{in}` (its placeholders) and the `{of_session}`
# and `{of_user}` correlations. `+project_id` keeps SQLite's planner off the project's indexes
# (it walked the whole project's range: ~10x slower, measured) and on the id lookups; the
# project still has to match. PostgreSQL reads it as the same integer.
_OF = {
    "{of_session}": "e.project_id = sessions.project_id AND e.session_key = sessions.session_key",
    "{of_user}": "e.project_id = end_users.project_id AND e.user_id = end_users.user_id",
}
_DELETE_FEEDBACK = "DELETE FROM feedback WHERE +project_id = ? AND event_id IN ({in}) RETURNING 1"
_DELETE_TAGS = "DELETE FROM event_tags WHERE +project_id = ? AND event_id IN ({in}) RETURNING 1"
_DELETE_EVENTS = (
    "DELETE FROM events WHERE +project_id = ? AND id IN ({in}) RETURNING session_key, user_id"
)
_DELETE_SESSIONS = (
    "DELETE FROM sessions WHERE project_id = ? AND session_key IN ({in}) "
    "AND NOT EXISTS (SELECT 1 FROM events e WHERE {of_session}) RETURNING 1"
)
# `{less}`: the event count less the deleted events (the first two parameters), never below 0.
_LESS = "event_count = CASE WHEN event_count > ? THEN event_count - ? ELSE 0 END"
_RECOUNT_SESSIONS = (
    "UPDATE sessions SET {less}, "
    "first_event_at = (SELECT MIN(e.created_at) FROM events e WHERE {of_session}), "
    "last_event_at = (SELECT MAX(e.created_at) FROM events e WHERE {of_session}) "
    "WHERE project_id = ? AND session_key IN ({in})"
)
_DELETE_USERS = (
    "DELETE FROM end_users WHERE project_id = ? AND user_id IN ({in}) "
    "AND NOT EXISTS (SELECT 1 FROM events e WHERE {of_user})"
)
_KEEP_HOUR = " AND NOT (hour_events > 0 AND hour_bucket >= ?)"
# SQLite's sweep: the end users it deletes, listed in `departed_users` (migration 17) first,
# since their rollups stay and SQLite reads the Overview's top end users per listed end user
# (app/services/rollups/reads.py, `_LISTED`). Erasure (no `keep_hour_from`) lists none.
_DEPART_USERS = (
    "INSERT INTO departed_users (project_id, user_id, last_seen) "  # noqa: S608
    "SELECT project_id, user_id, last_seen FROM end_users WHERE project_id = ? "
    "AND user_id IN ({in}) AND NOT EXISTS (SELECT 1 FROM events e WHERE {of_user})"
    + _KEEP_HOUR
    + " ON CONFLICT (project_id, user_id) DO UPDATE SET "
    "last_seen = MAX(departed_users.last_seen, excluded.last_seen)"
)
# An end user kept without events keeps its first and last seen (MIN/MAX of nothing).
_RECOUNT_USERS = (
    "UPDATE end_users SET {less}, "
    "first_seen = COALESCE((SELECT MIN(e.created_at) FROM events e WHERE {of_user}), "
    "first_seen), "
    "last_seen = COALESCE((SELECT MAX(e.created_at) FROM events e WHERE {of_user}), "
    "last_seen) "
    "WHERE project_id = ? AND user_id IN ({in})"
)


def _sql(d: Dialect, template: str, count: int) -> str:
    text = template.replace("{in}", ", ".join("?" * count)).replace("{less}", _LESS)
    for marker, correlation in _OF.items():
        text = text.replace(marker, correlation)
    return d.sql(text)


def delete_events(
    d: Dialect, project_id: int, ids: Sequence[Any], *, keep_hour_from: int | None = None
) -> Plan[Deleted]:
    """Delete the events `ids` of project `project_id` (ids of other projects are left alone),
    their feedback and tags, then settle their sessions and end users (`settle`, which says
    what `keep_hour_from` does). Returns the counts."""
    done = Deleted()
    sessions: Counter[str] = Counter()
    users: Counter[str] = Counter()
    for part in chunks(ids, IN_SIZE):
        params = [project_id, *part]
        done.feedback += len((yield Query(_sql(d, _DELETE_FEEDBACK, len(part)), params)))
        done.tags += len((yield Query(_sql(d, _DELETE_TAGS, len(part)), params)))
        rows = yield Query(_sql(d, _DELETE_EVENTS, len(part)), params)
        done.events += len(rows)
        for row in rows:
            sessions[row["session_key"]] += 1
            if row["user_id"] is not None:
                users[row["user_id"]] += 1
    settled = yield from settle(d, project_id, sessions, users, keep_hour_from=keep_hour_from)
    done.add(settled)
    return done


def settle(
    d: Dialect,
    project_id: int,
    sessions: Mapping[str, int],
    users: Mapping[str, int],
    *,
    keep_hour_from: int | None = None,
) -> Plan[Deleted]:
    """After events were deleted (`sessions` and `users`: how many from each key): delete the
    sessions and end users of the project that have no event left; the others lose those
    events off their count and get their first and last times from the events that remain.

    `keep_hour_from` (SQLite's current hour, epoch seconds): keep an emptied end user whose
    row still holds unfolded rollup counts of that hour or later (`end_users.hour_*`, see
    app/services/rollups/sqlite.py), so that the Overview keeps them; it is recounted to 0
    events and goes with a later sweep. The end users it deletes are listed in
    `departed_users` (`_DEPART_USERS`). None deletes it regardless (erasure, which subtracts
    those counts itself)."""
    done = Deleted()
    for part in chunks(sorted(sessions), IN_SIZE):
        gone = yield Query(_sql(d, _DELETE_SESSIONS, len(part)), [project_id, *part])
        done.sessions += len(gone)
        yield from _recount(d, _RECOUNT_SESSIONS, project_id, part, sessions)
    for part in chunks(sorted(users), IN_SIZE):
        params = [project_id, *part]
        if keep_hour_from is None:
            gone = yield Query(_sql(d, _DELETE_USERS + " RETURNING 1", len(part)), params)
        else:
            yield Query(_sql(d, _DEPART_USERS, len(part)), [*params, keep_hour_from])
            template = _DELETE_USERS + _KEEP_HOUR + " RETURNING 1"
            gone = yield Query(_sql(d, template, len(part)), [*params, keep_hour_from])
        done.end_users += len(gone)
        yield from _recount(d, _RECOUNT_USERS, project_id, part, users)
    return done


def _recount(
    d: Dialect, template: str, project_id: int, keys: Sequence[str], less: Mapping[str, int]
) -> Plan[None]:
    """Run `template` (a `{less}` UPDATE) over `keys`, one statement per distinct number of
    deleted events (a chunk has a few; a whole end user's sessions, some hundreds at most)."""
    by_count: dict[int, list[str]] = {}
    for key in keys:
        by_count.setdefault(less[key], []).append(key)
    for count, same in sorted(by_count.items()):
        yield Query(_sql(d, template, len(same)), [count, count, project_id, *same])
