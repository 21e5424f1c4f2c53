"""End users (the `user_id`s the application sends): activity and feedback at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.services.reads import list_end_users
from web.deps import Cursor, current_project_id
from web.security import SignedIn
from web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/users", response_class=HTMLResponse)
async def users_page(request: Request, session: SignedIn, after: Cursor = None) -> HTMLResponse:
    """End users, most recently seen first; each links to their sessions and events."""
    project_id = await current_project_id(session)
    page = await list_end_users(project_id, after=after)
    context = {"session": session, "page": page}
    return render(request, "users.html", context)
