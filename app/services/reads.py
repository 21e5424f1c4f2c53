"""The read side of the services: what GraphQL resolvers and dashboard pages call.

Every function takes the tenant's `project_id` first and never returns another project's data;
lists are keyset-paginated (`first`, `after`) and return `Page`s of frozen views, whose
`Page.cursor` gives any item's cursor. The code lives in `reads_events`, `reads_sessions`,
`reads_feedback`, `reads_users` and `reads_project`, on `reads_pages` (pages and cursors),
`reads_budget` (text under a byte budget) and `sql` (the SQL kit); this module is the one
import callers need.
"""

from app.services.reads_events import (
    EventFilter,
    EventView,
    count_events,
    event_cursor,
    events_by_ids,
    get_event,
    list_events,
    list_session_events,
    tags_of_events,
)
from app.services.reads_feedback import (
    FeedbackFilter,
    FeedbackView,
    count_feedback,
    feedback_for_events,
    list_feedback,
)
from app.services.reads_pages import MAX_PAGE, Page
from app.services.reads_project import ProjectTotalsView, project_name, project_totals
from app.services.reads_sessions import (
    SessionFilter,
    SessionView,
    count_sessions,
    feedback_by_session,
    get_session,
    list_sessions,
    sessions_by_keys,
)
from app.services.reads_users import EndUserFilter, EndUserView, get_end_user, list_end_users

__all__ = [
    "MAX_PAGE",
    "EndUserFilter",
    "EndUserView",
    "EventFilter",
    "EventView",
    "FeedbackFilter",
    "FeedbackView",
    "Page",
    "ProjectTotalsView",
    "SessionFilter",
    "SessionView",
    "count_events",
    "count_feedback",
    "count_sessions",
    "event_cursor",
    "events_by_ids",
    "feedback_by_session",
    "feedback_for_events",
    "get_end_user",
    "get_event",
    "get_session",
    "list_end_users",
    "list_events",
    "list_feedback",
    "list_session_events",
    "list_sessions",
    "project_name",
    "project_totals",
    "sessions_by_keys",
    "tags_of_events",
]
