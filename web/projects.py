"""Settings → Project: switch, create, rename, and add members (forms work without JavaScript)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.errors import PhosphoError
from app.services import accounts
from app.services.accounts import WebSession
from app.services.retention_settings import set_project_window
from app.services.roles import Action, may
from web.deps import settings_context
from web.security import Checked, SignedIn, redirect
from web.templating import render

Name = Annotated[str, Form(max_length=128)]

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request, session: WebSession, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    context, role = await settings_context(session)
    context |= {
        "role": role,
        "can_rename": may(role, Action.RENAME_PROJECT),
        "can_add_member": may(role, Action.ADD_MEMBER),
        "can_set_retention": may(role, Action.SET_RETENTION),
        "retention": _retention_text(
            context["project"].retention_days, request.app.state.settings.retention_days
        ),
        "default_retention": request.app.state.settings.retention_days,
        "members": await accounts.project_members(session.user_id, context["project"].id),
        "error": error,
    }
    return render(request, "project.html", context, status_code)


def _retention_text(own: int | None, default: int) -> str:
    """How long the project keeps its events, and by whose setting."""
    days = default if own is None else own
    kept = "forever" if days == 0 else f"{days} day{'s' if days != 1 else ''}"
    source = "the server's default" if own is None else "this project's setting"
    return f"{kept} ({source})"


async def _owner_change(
    request: Request, session: WebSession, change: Awaitable[object]
) -> HTMLResponse | RedirectResponse:
    """Make a change to a project the user owns: back to the settings, or the page with the
    reason it was refused (a project they cannot see stays a 404)."""
    try:
        await change
    except PhosphoError as exc:
        if exc.status_code == 404:
            raise
        return await _page(request, session, exc.message, exc.status_code)
    return redirect("/settings/project")


@router.get("/settings/project", response_class=HTMLResponse)
async def project_page(request: Request, session: SignedIn) -> HTMLResponse:
    """The current project's settings and the user's other projects."""
    return await _page(request, session)


@router.post("/projects/switch")
async def switch(session: Checked, project_id: Annotated[int, Form()]) -> RedirectResponse:
    """Look at another of the user's projects (404 for anyone else's)."""
    await accounts.switch_project(session, project_id)
    return redirect("/events")


@router.post("/projects", response_model=None)
async def create(request: Request, session: Checked, name: Name) -> HTMLResponse | RedirectResponse:
    """Create a project owned by the user and switch to it."""
    try:
        await accounts.create_project(session, name)
    except PhosphoError as exc:
        return await _page(request, session, exc.message, exc.status_code)
    return redirect("/settings/keys")


@router.post("/projects/{project_id}/rename", response_model=None)
async def rename(
    request: Request, project_id: int, session: Checked, name: Name
) -> HTMLResponse | RedirectResponse:
    """Rename a project the user owns."""
    return await _owner_change(request, session, accounts.rename_project(session, project_id, name))


@router.post("/projects/{project_id}/members", response_model=None)
async def add_member(
    request: Request, project_id: int, session: Checked,
    email: Annotated[str, Form(max_length=254)],
) -> HTMLResponse | RedirectResponse:  # fmt: skip
    """Give an existing account access to a project the user owns."""
    return await _owner_change(request, session, accounts.add_member(session, project_id, email))


@router.post("/projects/{project_id}/retention", response_model=None)
async def set_retention(
    request: Request, project_id: int, session: Checked,
    retention_days: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:  # fmt: skip
    """Set how many days a project the user owns keeps its events (empty: the server's
    default; 0: forever)."""
    change = set_project_window(session, project_id, retention_days)
    return await _owner_change(request, session, change)
