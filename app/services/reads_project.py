"""Reading the project itself: its name and its headline totals."""

from __future__ import annotations

from dataclasses import dataclass

from app.db import reader
from app.errors import NotFound
from app.services import sql
from models import Project

_CURRENT = sql.IS_LATEST.format(f="f")
# One statement: the counts of each table, and of each event's current feedback by score.
TOTALS_SQL = (
    "SELECT (SELECT COUNT(*) FROM events WHERE project_id = ?) AS events, "  # noqa: S608
    "(SELECT COUNT(*) FROM sessions WHERE project_id = ?) AS sessions, "
    "(SELECT COUNT(*) FROM end_users WHERE project_id = ?) AS end_users, "
    "(SELECT COUNT(CASE WHEN f.score = 1 THEN 1 END) FROM feedback f "
    f"WHERE f.project_id = ? AND {_CURRENT}) AS positive, "
    "(SELECT COUNT(CASE WHEN f.score = 0 THEN 1 END) FROM feedback f "
    f"WHERE f.project_id = ? AND {_CURRENT}) AS negative"
)


@dataclass(frozen=True, slots=True)
class ProjectTotalsView:
    """Headline counts of a project; feedback counts each event's current feedback."""

    events: int
    sessions: int
    end_users: int
    positive_feedback: int
    negative_feedback: int


async def project_totals(project_id: int) -> ProjectTotalsView:
    """Counts of a project's events, sessions, end users and current feedback (one query)."""
    d = sql.dialect()
    row = (await sql.fetch(d, TOTALS_SQL, [project_id] * 5))[0]
    return ProjectTotalsView(
        events=int(row["events"]),
        sessions=int(row["sessions"]),
        end_users=int(row["end_users"]),
        positive_feedback=int(row["positive"]),
        negative_feedback=int(row["negative"]),
    )


async def project_name(project_id: int) -> str:
    """The project's display name; NotFound when it does not exist."""
    project = await Project.filter(id=project_id).using_db(reader()).first()
    if project is None:
        raise NotFound("project not found")
    name: str = project.name
    return name
