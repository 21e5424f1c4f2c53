"""What htmx asks of the pages: a fragment instead of the page for its own requests (never for a
history restore, which needs the whole page), and `Vary: HX-Request` wherever they differ."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from web.templating import render


def htmx_fragment(request: Request) -> bool:
    """Whether to answer with a fragment: an htmx request that is not a history restore."""
    return bool(request.headers.get("hx-request")) and not request.headers.get(
        "hx-history-restore-request"
    )


def page_or_rows(
    request: Request, more: bool, page: str, rows: str, context: dict[str, Any]
) -> HTMLResponse:
    """A list page, or only its `rows` template when htmx asks for `more` ("load more")."""
    name = rows if more and htmx_fragment(request) else page
    response = render(request, name, context)
    response.headers["Vary"] = "HX-Request"
    return response
