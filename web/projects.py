"""Settings → Project: switch, create, rename, and add members (forms work without JavaScript)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from app.errors import PhosphoError
from app.services import accounts
from app.services.accounts import WebSession
from app.services.roles import Action, may, role_of
from web.events import current_project_id
from web.security import Checked, SignedIn, redirect, render

Name = Annotated[str, Form(max_length=128)]


def build_project_routes(templates: Jinja2Templates) -> APIRouter:
    """Routes under /settings/project and /projects."""
    router = APIRouter(include_in_schema=False)

    async def page(
        request: Request, session: WebSession, error: str | None = None, status_code: int = 200
    ) -> HTMLResponse:
        project_id = await current_project_id(session)
        role = await role_of(session.user_id, project_id)
        context = {
            "session": session,
            "project": await accounts.require_membership(session.user_id, project_id),
            "role": role,
            "can_rename": may(role, Action.RENAME_PROJECT),
            "can_add_member": may(role, Action.ADD_MEMBER),
            "members": await accounts.project_members(session.user_id, project_id),
            "projects": await accounts.user_projects(session.user_id),
            "error": error,
        }
        return render(templates, request, "project.html", context, status_code)

    @router.get("/settings/project", response_class=HTMLResponse)
    async def project_page(request: Request, session: SignedIn) -> HTMLResponse:
        """The current project's settings and the user's other projects."""
        return await page(request, session)

    @router.post("/projects/switch")
    async def switch(session: Checked, project_id: Annotated[int, Form()]) -> RedirectResponse:
        """Look at another of the user's projects (404 for anyone else's)."""
        await accounts.switch_project(session, project_id)
        return redirect("/events")

    @router.post("/projects", response_model=None)
    async def create(
        request: Request, session: Checked, name: Name
    ) -> HTMLResponse | RedirectResponse:
        """Create a project owned by the user and switch to it."""
        try:
            await accounts.create_project(session, name)
        except PhosphoError as exc:
            return await page(request, session, exc.message, exc.status_code)
        return redirect("/settings/keys")

    @router.post("/projects/{project_id}/rename", response_model=None)
    async def rename(
        request: Request, project_id: int, session: Checked, name: Name
    ) -> HTMLResponse | RedirectResponse:
        """Rename a project the user owns."""
        try:
            await accounts.rename_project(session, project_id, name)
        except PhosphoError as exc:
            if exc.status_code == 404:
                raise
            return await page(request, session, exc.message, exc.status_code)
        return redirect("/settings/project")

    @router.post("/projects/{project_id}/members", response_model=None)
    async def add_member(
        request: Request, project_id: int, session: Checked,
        email: Annotated[str, Form(max_length=254)],
    ) -> HTMLResponse | RedirectResponse:  # fmt: skip
        """Give an existing account access to a project the user owns."""
        try:
            await accounts.add_member(session, project_id, email)
        except PhosphoError as exc:
            if exc.status_code == 404:
                raise
            return await page(request, session, exc.message, exc.status_code)
        return redirect("/settings/project")

    return router
