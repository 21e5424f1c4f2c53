"""Settings → API keys: list, create (the full key shown once), revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from app.errors import Invalid
from app.services import accounts
from app.services.accounts import WebSession
from app.services.keys import create_api_key, list_api_keys, revoke_api_key
from models import Project
from web.security import Checked, SignedIn, redirect, render


def build_key_routes(templates: Jinja2Templates) -> APIRouter:
    """Routes under /settings/keys, scoped to the signed-in user's current project."""
    router = APIRouter(include_in_schema=False)

    async def page(
        request: Request, session: WebSession, new_key: str | None = None, status_code: int = 200
    ) -> HTMLResponse:
        project = await _current_project(session)
        context = {
            "session": session,
            "project": project,
            "projects": await accounts.user_projects(session.user_id),
            "keys": await list_api_keys(project.id),
            "new_key": new_key,
            "base_url": str(request.base_url).rstrip("/"),
        }
        return render(templates, request, "keys.html", context, status_code)

    @router.get("/settings/keys", response_class=HTMLResponse)
    async def keys_page(request: Request, session: SignedIn) -> HTMLResponse:
        """The current project's keys."""
        return await page(request, session)

    @router.post("/settings/keys", response_class=HTMLResponse)
    async def create_key(
        request: Request,
        session: Checked,
        name: Annotated[str, Form(max_length=128)] = "default",
    ) -> HTMLResponse:
        """Create a key and show it this once, with a ready-to-run curl command."""
        project = await _current_project(session)
        created = await create_api_key(project.id, name.strip() or "default")
        return await page(request, session, new_key=created.secret, status_code=201)

    @router.post("/settings/keys/{prefix}/revoke")
    async def revoke_key(prefix: str, session: Checked) -> RedirectResponse:
        """Revoke one of the current project's keys; it gets 401 from its next request."""
        project = await _current_project(session)
        await revoke_api_key(prefix, project_id=project.id)
        return redirect("/settings/keys")

    return router


async def _current_project(session: WebSession) -> Project:
    if session.project_id is None:
        raise Invalid("you have no project yet: create one first")
    return await accounts.require_membership(session.user_id, session.project_id)
