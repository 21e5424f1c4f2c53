"""The GraphQL page: GraphiQL from vendored, pinned files (web/static/vendor/VENDOR.md), signed
in with the dashboard's login, so queries need no pasted key and the page works offline.

GraphiQL posts to /graphql with the login cookie and the page's CSRF token in `X-CSRF-Token`
(subscriptions: the token in the WebSocket's connection_init), which app/schema/login.py
requires of a cookie. A key pasted into GraphiQL's Headers pane still wins over the cookie.

The page's Content-Security-Policy is the dashboard's with two additions GraphiQL needs, here
only: its stylesheet embeds its fonts as `data:` URIs (`font-src 'self' data:`), and its
dialogs and menus (react-remove-scroll, inside Radix) add one `<style>` element while open,
stamped with webpack's `__webpack_nonce__`, which web/static/graphiql.js sets from this
request's nonce (`style-src 'self' 'nonce-…'`, never `'unsafe-inline'`). Script stays
`'self'` only: no inline script, no eval, no workers (GraphiQL 4's UMD build edits with
CodeMirror 5 on the main thread; GraphiQL 5 needs Monaco's workers and was not taken).
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.services.roles import Action, may
from web.deps import settings_context
from web.security import SECURITY_HEADERS, SignedIn
from web.templating import render

router = APIRouter(include_in_schema=False)

ENDPOINT = "/graphql"
DEFAULT_QUERY = """# Queries run against this project as you: no API key needed.
# Press the run button (or Ctrl-Enter); the Docs pane lists every field.
{
  project {
    name
    totals {
      events
    }
  }
}
"""


def page_policy(nonce: str) -> str:
    """The dashboard's CSP plus what GraphiQL needs (see the module docstring)."""
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    policy = policy.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")
    return policy.replace("img-src", "font-src 'self' data:; img-src")


@router.get("/graphiql", response_class=HTMLResponse)
async def graphiql_page(request: Request, session: SignedIn) -> HTMLResponse:
    """GraphiQL for the current project, as the signed-in user."""
    context, role = await settings_context(session)
    nonce = secrets.token_urlsafe(16)
    context |= {
        "endpoint": ENDPOINT,
        "role": role,
        "can_manage": may(role, Action.MANAGE_ALERTS),
        "style_nonce": nonce,
        "default_query": DEFAULT_QUERY,
    }
    response = render(request, "graphiql.html", context)
    response.headers["Content-Security-Policy"] = page_policy(nonce)
    response.headers["Cache-Control"] = "no-store"  # the nonce and CSRF token are per page
    return response
