"""What htmx asks of the pages: a fragment instead of the page for its own requests (never for a
history restore, which needs the whole page), and `Vary: HX-Request` wherever they differ.

The list pages open a row in a side panel (`<aside id="panel">`): the row's link is a real
link to the detail's page, which htmx fetches with `HX-Target: panel`; such a request gets only
the panel's fragment (`page_or_panel`), every other request (a visit, a reload, a history
restore after the back button) the whole page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse

from web.templating import render

PANEL = "panel"  # the id of the list pages' side panel


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


def page_or_panel(
    request: Request, page: str, panel: str, context: dict[str, Any], list_path: str
) -> HTMLResponse:
    """A detail's page, or only its `panel` fragment when htmx opens it in the side panel of
    the list at `list_path`; the fragment's Close link goes back to that list as it was (the
    URL htmx says it is on, when that is the list)."""
    if not (htmx_fragment(request) and request.headers.get("hx-target") == PANEL):
        response = render(request, page, context)
    else:
        current = urlsplit(request.headers.get("hx-current-url", ""))
        back = list_path
        if current.path == list_path:
            back += f"?{current.query}" if current.query else ""
        response = render(request, panel, {**context, "close_url": back})
    response.headers["Vary"] = "HX-Request, HX-Target"
    return response
