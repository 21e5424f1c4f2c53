"""End users (the `user_id`s the application sends): activity and feedback at a glance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.services.reads import list_end_users
from web.events import current_project_id
from web.security import SignedIn, render


def build_user_routes(templates: Jinja2Templates) -> APIRouter:
    """The /users page, scoped to the signed-in user's current project."""
    router = APIRouter(include_in_schema=False)

    @router.get("/users", response_class=HTMLResponse)
    async def users_page(
        request: Request,
        session: SignedIn,
        after: Annotated[str | None, Query(max_length=512)] = None,
    ) -> HTMLResponse:
        """End users, most recently seen first; each links to their sessions and events."""
        project_id = await current_project_id(session)
        page = await list_end_users(project_id, after=after)
        context = {"session": session, "page": page}
        return render(templates, request, "users.html", context)

    return router
