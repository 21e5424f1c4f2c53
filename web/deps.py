"""What page handlers take from the request besides the signed-in session (web/security.py):
the current project (and what the settings pages show of it), and query parameters with
their limits and parsing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from app.errors import Invalid, NotFound
from app.services import accounts
from app.services.accounts import WebSession
from app.services.event_filters import parse_time as parse_time  # the pages' one time rule
from app.services.roles import role_of
from models import Project
from web.security import SignedIn

Param = Annotated[str | None, Query(max_length=256)]  # a filter's value
Cursor = Annotated[str | None, Query(max_length=512)]  # a keyset "load more" position


async def current_project(session: WebSession) -> Project:
    """The project the signed-in user is looking at (NotFound if no longer a member)."""
    if session.project_id is None:
        raise Invalid("you have no project yet")
    return await accounts.require_membership(session.user_id, session.project_id)


async def current_project_id(session: WebSession) -> int:
    """The id of `current_project`."""
    return (await current_project(session)).id


async def settings_context(session: WebSession) -> tuple[dict[str, Any], str]:
    """What the settings pages share (the session, the current project, the user's projects to
    switch to) and the user's role in the project."""
    project = await current_project(session)
    role = await role_of(session.user_id, project.id)
    projects = await accounts.user_projects(session.user_id)
    return {"session": session, "project": project, "projects": projects}, role


async def optional_project_id(session: WebSession | None) -> int | None:
    """The signed-in user's current project, if they have one they still belong to."""
    if session is None:
        return None
    try:
        return await current_project_id(session)
    except (Invalid, NotFound):
        return None


async def project_of(session: SignedIn) -> int:
    """Dependency: the current project, checked before any response starts.

    Streaming routes are generators whose body runs after the 200 headers are sent, so their
    access checks must live in dependencies like this one.
    """
    return await current_project_id(session)


ProjectId = Annotated[int, Depends(project_of)]
