"""Dashboard: server-rendered pages (Jinja2 + htmx). For now, a start page for new servers."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


def build_router() -> APIRouter:
    """Page routes; templates are found next to this module, installed or not."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        """Start page: how to get a key and log the first event against this server."""
        base_url = str(request.base_url).rstrip("/")
        return templates.TemplateResponse(request, "index.html", {"base_url": base_url})

    return router


def static_files() -> StaticFiles:
    """The dashboard's static files (CSS, vendored scripts)."""
    return StaticFiles(directory=str(STATIC_DIR))
