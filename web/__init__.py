"""Dashboard: server-rendered pages (Jinja2, autoescaped), calling `app.services` directly.

One module per page (its module-level `router`); what pages share has a home of its own:
`deps` (current project, query parameters), `htmx` (fragments), `templating` (templates,
`render`), `live` (the SSE streams' loop), `security` (login cookie, CSRF, headers).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from web import accounts, alerts, events, graphiql, keys, overview, projects, sessions, users
from web.security import CsrfFailed, LoginRequired, redirect
from web.templating import TEMPLATES_DIR, render

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Routes in this order.
PAGES = (overview, accounts, keys, events, sessions, users, projects, alerts, graphiql)


async def login_required(request: Request, exc: Exception) -> Response:
    """A page that needs a signed-in user: to the login page, and back here after it."""
    return redirect("/login?next=" + quote(request.url.path))


async def csrf_failed(request: Request, exc: Exception) -> Response:
    """A state-changing request without a matching Origin and CSRF token: 403, as a page."""
    return render(request, "forbidden.html", {"session": None}, status_code=403)


def install_web(app: FastAPI) -> None:
    """Add the dashboard's pages, static files and error pages to `app`."""
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(CsrfFailed, csrf_failed)
    for page in PAGES:
        app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")


__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "install_web"]
