"""What one commit's new events add to their sessions and end users, tallied per commit so
that each session and end user gets one upsert (app/services/ingest.py's `_commit_events`).

An event's time is the commit's, unless it carries its own (an OpenTelemetry span's start):
then a session's or end user's first and last times span the commit's events.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from app.services.ingest_jobs import PreparedEvent


class SessionSeen(NamedTuple):
    """A session's events in one commit."""

    user_id: str | None  # the last one given
    events: int
    first: PreparedEvent  # lowest id: its rollup cell counts the session as started
    first_at: datetime  # the earliest event's time (the commit's, unless events carry theirs)
    last_at: datetime


def count_session(
    sessions: dict[tuple[int, str], SessionSeen],
    project_id: int,
    event: PreparedEvent,
    at: datetime,
) -> None:
    """Count `event`, which happened `at`, in its session's entry."""
    key = (project_id, event.session_key)
    seen = sessions.get(key)
    if seen is None:
        sessions[key] = SessionSeen(event.user_id, 1, event, at, at)
        return
    first = event if event.id < seen.first.id else seen.first
    sessions[key] = SessionSeen(
        event.user_id or seen.user_id, seen.events + 1, first,
        min(seen.first_at, at), max(seen.last_at, at),
    )  # fmt: skip


class UserSeen(NamedTuple):
    """An end user's events in one commit."""

    events: int
    first: datetime
    last: datetime


def count_user(users: dict[tuple[int, str], UserSeen], key: tuple[int, str], at: datetime) -> None:
    """Count an event of end user `key`, which happened `at`."""
    seen = users.get(key)
    users[key] = (
        UserSeen(1, at, at)
        if seen is None
        else UserSeen(seen.events + 1, min(seen.first, at), max(seen.last, at))
    )
