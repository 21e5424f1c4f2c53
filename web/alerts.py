"""Settings → Alerts: rules, destinations, "send test" and the history. Every member sees them;
only owners change them (checked by the server whatever the page shows). Forms work without
JavaScript."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.errors import PhosphoError
from app.services.accounts import WebSession
from app.services.alerts import manage
from app.services.alerts.evaluator import delivery_settings, send_test
from app.services.alerts.rules import METRIC_LABELS, WINDOWS, Comparison, check_rule
from app.services.roles import Action, may
from web.deps import current_project, settings_context
from web.security import Checked, SignedIn, redirect
from web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = "/settings/alerts"
HISTORY = 50


async def _page(
    request: Request,
    session: WebSession,
    *,
    error: str | None = None,
    status_code: int = 200,
    new_secret: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    context, role = await settings_context(session)
    project_id = context["project"].id
    context |= {
        "can_manage": may(role, Action.MANAGE_ALERTS),
        "rules": await manage.list_rules(project_id),
        "destinations": await manage.list_destinations(project_id),
        "history": await manage.list_events(project_id, HISTORY),
        "metrics": METRIC_LABELS,
        "windows": WINDOWS,
        "comparisons": list(Comparison),
        "error": error,
        "new_secret": new_secret,
        "notice": notice,
    }
    return render(request, "alerts.html", context, status_code)


async def _refused(request: Request, session: WebSession, exc: PhosphoError) -> HTMLResponse:
    """The page with the reason a change was refused (a project they cannot see stays 404)."""
    if exc.status_code == 404 and exc.message == "project not found":
        raise exc
    return await _page(request, session, error=exc.message, status_code=exc.status_code)


@router.get(PAGE, response_class=HTMLResponse)
async def alerts_page(request: Request, session: SignedIn) -> HTMLResponse:
    """The current project's alert rules, destinations and history."""
    return await _page(request, session)


@router.post(PAGE + "/destinations", response_class=HTMLResponse)
async def create_destination(
    request: Request, session: Checked,
    name: Annotated[str, Form(max_length=128)], kind: Annotated[str, Form(max_length=16)],
    url: Annotated[str, Form(max_length=2048)],
) -> HTMLResponse:  # fmt: skip
    """Add a destination and show its signing secret this once (owners only)."""
    project = await current_project(session)
    allow = request.app.state.settings.webhook_allow_private
    try:
        await manage.require_manager(session.user_id, project.id)
        made = await manage.create_destination(project.id, name, kind, url, allow_private=allow)
    except PhosphoError as exc:
        return await _refused(request, session, exc)
    return await _page(request, session, new_secret=made.secret, status_code=201)


@router.post(PAGE + "/destinations/{destination_id}/test", response_class=HTMLResponse)
async def test_destination(request: Request, destination_id: int, session: Checked) -> HTMLResponse:
    """Send a test message now; the page shows whether it arrived (owners only)."""
    project = await current_project(session)
    try:
        await manage.require_manager(session.user_id, project.id)
        sent = await send_test(
            project.id, destination_id, delivery_settings(request.app.state.settings)
        )
    except PhosphoError as exc:
        return await _refused(request, session, exc)
    notice = "Test message delivered." if sent else "Test message failed: see the history."
    return await _page(request, session, notice=notice)


@router.post(PAGE + "/destinations/{destination_id}/delete", response_model=None)
async def delete_destination(
    request: Request, destination_id: int, session: Checked
) -> HTMLResponse | RedirectResponse:
    """Delete a destination (owners only)."""
    project = await current_project(session)
    try:
        await manage.require_manager(session.user_id, project.id)
        await manage.delete_destination(project.id, destination_id)
    except PhosphoError as exc:
        return await _refused(request, session, exc)
    return redirect(PAGE)


@router.post(PAGE + "/rules", response_model=None)
async def create_rule(
    request: Request, session: Checked,
    name: Annotated[str, Form(max_length=128)], metric: Annotated[str, Form(max_length=32)],
    window: Annotated[str, Form(max_length=8)], comparison: Annotated[str, Form(max_length=8)],
    threshold: Annotated[str, Form(max_length=64)],
    model: Annotated[str, Form(max_length=256)] = "",
    destination: Annotated[list[int] | None, Form()] = None,
) -> HTMLResponse | RedirectResponse:  # fmt: skip
    """Add a rule (owners only)."""
    project = await current_project(session)
    try:
        await manage.require_manager(session.user_id, project.id)
        spec = check_rule(name, metric, window, comparison, threshold, model)
        await manage.create_rule(project.id, spec, destination or [])
    except PhosphoError as exc:
        return await _refused(request, session, exc)
    return redirect(PAGE)


@router.post(PAGE + "/rules/{rule_id}/enabled", response_model=None)
async def enable_rule(
    request: Request, rule_id: int, session: Checked,
    enabled: Annotated[bool, Form()],
) -> HTMLResponse | RedirectResponse:  # fmt: skip
    """Pause or resume a rule (owners only)."""
    project = await current_project(session)
    try:
        await manage.require_manager(session.user_id, project.id)
        await manage.set_rule_enabled(project.id, rule_id, enabled)
    except PhosphoError as exc:
        return await _refused(request, session, exc)
    return redirect(PAGE)


@router.post(PAGE + "/rules/{rule_id}/delete", response_model=None)
async def delete_rule(
    request: Request, rule_id: int, session: Checked
) -> HTMLResponse | RedirectResponse:
    """Delete a rule; its history stays (owners only)."""
    project = await current_project(session)
    try:
        await manage.require_manager(session.user_id, project.id)
        await manage.delete_rule(project.id, rule_id)
    except PhosphoError as exc:
        return await _refused(request, session, exc)
    return redirect(PAGE)
