"""The events list's filters as text, from the dashboard's URL or the export's query string:
checked once, here, into the read service's `EventFilter` (app/services/reads_events.py).

An empty value is no filter. What the read service would refuse or misread is refused here as
`Invalid` (a 422 that says what to write): an unknown feedback state or status, a time that is
not ISO 8601, `since` after `until`, a search past its bounds (app/services/search.py), and a NUL
character (PostgreSQL cannot compare one).
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.errors import Invalid
from app.services.event_fields import STATUSES
from app.services.reads_events import EventFilter, FeedbackState
from app.services.search import parse_query

FEEDBACK_STATES: tuple[FeedbackState, ...] = ("positive", "negative", "none")


def parse_time(value: str | None, name: str) -> datetime | None:
    """A date and time (UTC when it names no zone); None when empty; Invalid, a 422 that says
    what to write, for anything else."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} must be a date and time such as 2026-03-03T10:30") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def event_filter(
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    model: str | None = None,
    feedback: str | None = None,
    q: str | None = None,
    since: str | None = None,
    until: str | None = None,
    tag: str | None = None,
    status: str | None = None,
) -> EventFilter:
    """The read service's filter from the list's text filters (see the module's docstring)."""
    texts = {"session_id": session_id, "user_id": user_id, "model": model, "q": q, "tag": tag}
    for name, value in texts.items():
        if value and "\x00" in value:
            raise Invalid(f"{name} must not contain a NUL character")
    if feedback and feedback not in FEEDBACK_STATES:
        raise Invalid("feedback must be positive, negative or none")
    if status and status not in STATUSES:
        raise Invalid("status must be ok or error")
    parse_query(q)  # a search past its bounds is refused here, with the reason
    start, end = parse_time(since, "since"), parse_time(until, "until")
    if start is not None and end is not None and start > end:
        raise Invalid("since must not be later than until")
    return EventFilter(
        session_id=session_id or None,
        user_id=user_id or None,
        model=model or None,
        feedback=feedback or None,
        since=start,
        until=end,
        search=q or None,
        tag=tag or None,
        status=status or None,
    )
