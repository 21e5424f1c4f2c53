"""The dashboard's templates: one Jinja2 environment (autoescaped) with its filters, and the
two ways out of it: a whole page with the security headers (`render`), or a one-line HTML
fragment for a live stream (`fragment`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.services.reads_events import event_cursor
from web import cells
from web import overview_view as view
from web.security import SECURITY_HEADERS

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def short(text: str, limit: int = 120) -> str:
    """Truncate long text for table cells (the detail page shows it whole)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters.update(short=short, usd=view.usd, ms=view.ms, percent=view.percent)
templates.env.filters.update(
    clip=cells.clip,
    short_id=cells.short_id,
    utc=cells.utc,
    iso=cells.iso,
    ago=cells.ago,
    cost=cells.cost,
    long_text=cells.long_text,
)
templates.env.globals["cursor"] = event_cursor


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A page, with the security headers."""
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def fragment(name: str, **context: Any) -> str:
    """A template rendered on one line: an SSE `data:` field cannot hold a newline."""
    html: str = templates.env.get_template(name).render(**context)
    return html.replace("\n", " ")
