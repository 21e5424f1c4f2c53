"""The dashboard's templates: one Jinja2 environment (autoescaped) with its filters, and the
two ways out of it: a whole page with the security headers (`render`), or a one-line HTML
fragment for a live stream (`fragment`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from app.errors import Invalid
from app.services.reads_events import event_cursor
from app.services.search import CAP, highlight_spans, parse_query
from web import cells
from web import overview_view as view
from web.security import SECURITY_HEADERS

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


# A snippet starts at the text's start when its first search match is within the first SHOWN
# characters (what a table cell shows), else LEAD characters before the match.
SHOWN, LEAD = 20, 12


def highlight(text: str, q: str | None, limit: int = 120) -> Markup:
    """`clip(text, limit)` with the words matching search `q` in `<mark>`; when the first match lies
    past the start, the window moves to it ("…" before). Built from escaped pieces only:
    event text is untrusted. A query Invalid here was refused by the list already."""
    try:
        query = parse_query(q)
    except Invalid:
        query = parse_query(None)
    spans = highlight_spans(text[:CAP], query)
    if not spans:
        return escape(cells.clip(text, limit))
    # A word or two before the first match: the table's cells show ~25 characters, so a match
    # further in would be cut off by the cell's ellipsis.
    start = 0 if spans[0][0] <= SHOWN else spans[0][0] - LEAD
    space = text.find(" ", start, spans[0][0])  # not from the middle of a word
    start = space + 1 if start and space != -1 else start
    end = min(len(text), start + limit - (1 if start else 0))
    pieces = [Markup("…")] if start else []
    at = start
    for left, right in spans:
        if left >= end:
            break
        right = min(right, end)
        pieces += [escape(text[at:left]), Markup("<mark>"), escape(text[left:right]),
                   Markup("</mark>")]  # fmt: skip
        at = right
    pieces.append(escape(text[at:end]))
    if end < len(text):
        pieces.append(Markup("…"))
    return Markup("").join(pieces)


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
# The templates ship with the server and never change under a running one: Jinja's default
# checks each file's modification time on every render (~2% of a live SSE stream's CPU in
# py-spy, issue 24). A changed template takes effect at the next start.
templates.env.auto_reload = False
templates.env.filters.update(usd=view.usd, ms=view.ms, percent=view.percent)
templates.env.filters.update(
    clip=cells.clip,
    short_id=cells.short_id,
    utc=cells.utc,
    iso=cells.iso,
    ago=cells.ago,
    cost=cells.cost,
    long_text=cells.long_text,
    highlight=highlight,
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
