"""Dashboard: server-rendered pages (Jinja2, autoescaped), calling `app.services` directly."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.services.reads import event_cursor
from web.accounts import build_account_routes
from web.events import build_event_routes, short
from web.keys import build_key_routes
from web.overview import build_overview_routes
from web.projects import build_project_routes
from web.security import CsrfFailed, LoginRequired, redirect, render
from web.sessions import build_session_routes
from web.users import build_user_routes

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


def install_web(app: FastAPI) -> None:
    """Add the dashboard's pages, static files and error pages to `app`."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.filters["short"] = short
    templates.env.globals["cursor"] = event_cursor

    async def login_required(request: Request, exc: Exception) -> Response:
        return redirect("/login?next=" + quote(request.url.path))

    async def csrf_failed(request: Request, exc: Exception) -> Response:
        context = {"session": None}
        return render(templates, request, "forbidden.html", context, status_code=403)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(CsrfFailed, csrf_failed)
    app.include_router(build_overview_routes(templates))
    app.include_router(build_account_routes(templates))
    app.include_router(build_key_routes(templates))
    app.include_router(build_event_routes(templates))
    app.include_router(build_session_routes(templates))
    app.include_router(build_user_routes(templates))
    app.include_router(build_project_routes(templates))
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")


__all__ = ["install_web"]
