"""Settings → API keys: list (every member); create (shown once) and revoke (owners only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.errors import Forbidden
from app.services.accounts import WebSession
from app.services.keys import create_key_as, list_api_keys, revoke_key_as
from app.services.roles import Action, may, role_of
from web.deps import current_project, settings_context
from web.security import Checked, SignedIn, redirect
from web.templating import render

router = APIRouter(include_in_schema=False)


async def may_create_keys(session: WebSession, project_id: int) -> bool:
    """Whether the signed-in user may create the project's keys (pages hide the form if not)."""
    return may(await role_of(session.user_id, project_id), Action.CREATE_KEY)


async def _page(
    request: Request,
    session: WebSession,
    new_key: str | None = None,
    status_code: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    context, role = await settings_context(session)
    context |= {
        "keys": await list_api_keys(context["project"].id),
        "new_key": new_key,
        "base_url": str(request.base_url).rstrip("/"),
        "can_create": may(role, Action.CREATE_KEY),
        "can_revoke": may(role, Action.REVOKE_KEY),
        "error": error,
    }
    return render(request, "keys.html", context, status_code)


@router.get("/settings/keys", response_class=HTMLResponse)
async def keys_page(request: Request, session: SignedIn) -> HTMLResponse:
    """The current project's keys."""
    return await _page(request, session)


@router.post("/settings/keys", response_class=HTMLResponse)
async def create_key(
    request: Request,
    session: Checked,
    name: Annotated[str, Form(max_length=128)] = "default",
) -> HTMLResponse:
    """Create a key and show it this once, with a ready-to-run curl command (owners only)."""
    project = await current_project(session)
    try:
        created = await create_key_as(session.user_id, project.id, name.strip() or "default")
    except Forbidden as exc:
        return await _page(request, session, status_code=403, error=exc.message)
    return await _page(request, session, new_key=created.secret, status_code=201)


@router.post("/settings/keys/{prefix}/revoke", response_model=None)
async def revoke_key(
    request: Request, prefix: str, session: Checked
) -> HTMLResponse | RedirectResponse:
    """Revoke one of the current project's keys (owners only): it gets 401 from its next
    request, and its open subscriptions close within seconds."""
    project = await current_project(session)
    try:
        await revoke_key_as(session.user_id, project.id, prefix)
    except Forbidden as exc:
        return await _page(request, session, status_code=403, error=exc.message)
    return redirect("/settings/keys")
