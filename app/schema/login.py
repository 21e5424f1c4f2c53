"""GraphQL with the dashboard's login cookie instead of an API key (GraphiQL on the dashboard's
GraphQL page, web/graphiql.py): when a cookie is accepted, and what it may do.

A browser sends the cookie with every request to this server, whichever page made it, so a
cookie alone proves nothing about who wrote the request (CSRF). A cookie is accepted only with
the proof the dashboard's own forms give (web/security.py `checked`):
- over HTTP: POST only (a GET never runs an operation), from this server's origin
  (app/origin.py), with the login session's CSRF token in `X-CSRF-Token`: a cross-site page
  can neither read the token nor send a custom header here (no CORS on /graphql);
- over WebSocket (subscriptions), where a browser cannot set headers: this server's Origin on
  the upgrade and the token in the `connection_init` payload (`{"X-CSRF-Token": "…"}`).
A missing or expired session is 401 (sign in again); a live session without the proof is 403.

The session's role comes along (app/services/roles.py): members read; owners may also run the
mutations that match what the dashboard lets owners do (alert rules and destinations, erasing
an end user), checked by `Context.acting`. Logging events and feedback stays with API keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from app.errors import Forbidden, NotFound, Unauthorized
from app.origin import same_origin
from app.services import accounts
from app.services.keys import UNAUTHORIZED_MESSAGE, Principal
from app.services.roles import role_of

CSRF_HEADER = "X-CSRF-Token"  # as htmx sends it on the dashboard's pages
PROOF_MESSAGE = (
    "a request with the login cookie must come from this server's dashboard: "
    f"POST from its origin with the page's CSRF token in {CSRF_HEADER}"
)


@dataclass(frozen=True)
class LoginCaller:
    """A signed-in dashboard user acting in one of their projects, with their role there."""

    principal: Principal
    role: str


def has_login_cookie(connection: HTTPConnection) -> bool:
    """Whether the request carries the dashboard's login cookie."""
    return bool(connection.cookies.get(accounts.SESSION_COOKIE))


async def http_caller(connection: HTTPConnection) -> LoginCaller:
    """The caller of a cookie-authenticated POST (401 without a live session, 403 without the
    origin and CSRF token)."""
    session = await _session(connection)
    submitted = connection.headers.get(CSRF_HEADER)
    if not same_origin(connection) or not accounts.csrf_ok(session, submitted):
        raise Forbidden(PROOF_MESSAGE)
    return await _caller(session, connection)


async def websocket_caller(connection: HTTPConnection, params: Any) -> LoginCaller:
    """The caller of a cookie-authenticated WebSocket; Unauthorized (close 4403) without a live
    session, this server's Origin and the CSRF token in the connection_init payload."""
    session = await _session(connection)
    submitted = params.get(CSRF_HEADER) if isinstance(params, dict) else None
    token = submitted if isinstance(submitted, str) else None
    if not same_origin(connection) or not accounts.csrf_ok(session, token):
        raise Unauthorized(PROOF_MESSAGE)
    return await _caller(session, connection)


async def _session(connection: HTTPConnection) -> accounts.WebSession:
    session = await accounts.session_for(connection.cookies.get(accounts.SESSION_COOKIE))
    if session is None:
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    return session


async def _caller(session: accounts.WebSession, connection: HTTPConnection) -> LoginCaller:
    """The project the user asks for (default: the one the dashboard shows) and their role."""
    wanted = connection.headers.get("x-phospho-project") or connection.query_params.get("project")
    project_id = session.project_id
    if wanted is not None:
        # An INTEGER column: a longer number would fail in PostgreSQL rather than not match.
        if not (wanted.isascii() and wanted.isdigit() and len(wanted) <= 9):
            raise Unauthorized("X-Phospho-Project must be a project id")
        project_id = int(wanted)
    if project_id is None:
        raise Unauthorized("you have no project yet")
    try:
        role = await role_of(session.user_id, project_id)
    except NotFound:  # not a member: indistinguishable from a project that does not exist
        raise Unauthorized("no such project for this user") from None
    # key_id 0: never a valid key; the session id lets live streams end with the session.
    principal = Principal(key_id=0, project_id=project_id, session_id=session.session_id)
    return LoginCaller(principal, role)
