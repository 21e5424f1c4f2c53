"""End users (the `user_id`s the application sends): activity and feedback at a glance; one
end user's page, and its erasure (owners only, confirmed on a page of its own first)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from app.errors import Forbidden, Invalid
from app.services.accounts import WebSession
from app.services.erasure import forget_end_user_as
from app.services.reads import EndUserFilter, get_end_user, list_end_users
from app.services.roles import Action, may, role_of
from web.deps import Cursor, current_project_id
from web.htmx import page_or_panel, page_or_rows
from web.keys import may_create_keys
from web.list_filters import UrlFilters
from web.security import Checked, SignedIn
from web.templating import render

router = APIRouter(include_in_schema=False)

UserId = Annotated[str, Query(min_length=1, max_length=256)]


@router.get("/users", response_class=HTMLResponse)
async def users_page(
    request: Request, session: SignedIn, filters: UrlFilters, after: Cursor = None
) -> HTMLResponse:
    """End users, most recently seen first; each opens its page (or the side panel)."""
    project_id = await current_project_id(session)
    context = {"session": session, "filters": filters, "after": after,
               "base_url": str(request.base_url).rstrip("/")}  # fmt: skip
    try:
        wanted = EndUserFilter(*filters.parsed("Last seen from", "Last seen to"))
    except Invalid as exc:
        return render(request, "users.html", {**context, "error": exc.message}, 422)
    page = await list_end_users(project_id, after=after, filter=wanted)
    context |= {"page": page, "can_create_key": await may_create_keys(session, project_id)}
    return page_or_rows(request, bool(after), "users.html", "_user_rows.html", context)


async def _end_user_page(
    request: Request,
    session: WebSession,
    user: str,
    step: str,
    status_code: int = 200,
    **extra: object,
) -> HTMLResponse:
    """`end_user.html` at one step: `view`, `confirm` (the erasure's; `refused`, 403, for a
    member), `erased`, `refused`."""
    project_id = await current_project_id(session)
    can_erase = may(await role_of(session.user_id, project_id), Action.ERASE_END_USER)
    if step == "confirm" and not can_erase:
        message = f"only the project's owner can {Action.ERASE_END_USER.value}"
        step, status_code, extra = "refused", 403, {**extra, "error": message}
    found = await get_end_user(project_id, user) if step in ("view", "confirm") else None
    if found is None and step in ("view", "confirm"):
        step, status_code = "missing", 404
    context = {
        "session": session, "user": user, "end_user": found, "step": step,
        "can_erase": can_erase, **extra,
    }  # fmt: skip
    if step == "view":  # the page, or the users list's side panel (htmx)
        return page_or_panel(request, "end_user.html", "_end_user_panel.html", context, "/users")
    return render(request, "end_user.html", context, status_code)


@router.get("/users/profile", response_class=HTMLResponse)
async def end_user_page(request: Request, session: SignedIn, user: UserId) -> HTMLResponse:
    """One end user: its figures, links to its events and sessions, and (owners) Erase."""
    return await _end_user_page(request, session, user, "view")


@router.get("/users/erase", response_class=HTMLResponse)
async def confirm_erasure(request: Request, session: SignedIn, user: UserId) -> HTMLResponse:
    """The confirmation step before an erasure (a page: it works without JavaScript)."""
    return await _end_user_page(request, session, user, "confirm")


@router.post("/users/erase", response_class=HTMLResponse)
async def erase_end_user(
    request: Request, session: Checked, user: Annotated[str, Form(max_length=1024)]
) -> HTMLResponse:
    """Erase the end user (owners only; checked here whatever the page showed)."""
    project_id = await current_project_id(session)
    ingestor = request.app.state.ingestor
    try:
        erased = await forget_end_user_as(ingestor, session.user_id, project_id, user)
    except Forbidden as exc:
        return await _end_user_page(request, session, user, "refused", 403, error=exc.message)
    except Invalid as exc:
        return await _end_user_page(request, session, user, "refused", 422, error=exc.message)
    return await _end_user_page(request, session, user, "erased", erased=erased.as_dict())
