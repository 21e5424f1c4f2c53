"""The read side of the services: what GraphQL resolvers and dashboard pages call.

Every function takes the tenant's `project_id` first and never returns another project's data;
lists are keyset-paginated (`first`, `after`) and return `Page`s of frozen views. The code lives
in `reads_events`, `reads_sessions`, `reads_feedback` and `reads_users`; this module is the
one import callers need.
"""

from app.services.reads_common import MAX_PAGE, Page
from app.services.reads_events import (
    EventFilter,
    EventView,
    count_events,
    events_by_ids,
    get_event,
    list_events,
    list_session_events,
)
from app.services.reads_feedback import (
    FeedbackFilter,
    FeedbackView,
    count_feedback,
    feedback_for_events,
    list_feedback,
)
from app.services.reads_sessions import (
    SessionFilter,
    SessionView,
    count_sessions,
    feedback_by_session,
    get_session,
    list_sessions,
    sessions_by_keys,
)
from app.services.reads_users import EndUserView, ProjectTotals, list_end_users, project_totals

__all__ = [
    "MAX_PAGE",
    "EndUserView",
    "EventFilter",
    "EventView",
    "FeedbackFilter",
    "FeedbackView",
    "Page",
    "ProjectTotals",
    "SessionFilter",
    "SessionView",
    "count_events",
    "count_feedback",
    "count_sessions",
    "events_by_ids",
    "feedback_by_session",
    "feedback_for_events",
    "get_event",
    "get_session",
    "list_end_users",
    "list_events",
    "list_feedback",
    "list_session_events",
    "list_sessions",
    "project_totals",
    "sessions_by_keys",
]
