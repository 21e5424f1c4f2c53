"""Dashboard security: the login cookie, CSRF (token + Origin, by the rule in app/origin.py),
and the headers of every page.

Pages set their headers themselves (see `web.templating.render`) instead of through a global
middleware, so the ingest API pays nothing for the dashboard.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from app.origin import same_origin
from app.services.accounts import SESSION_COOKIE, WebSession, csrf_ok, session_for

COOKIE = SESSION_COOKIE
SECURITY_HEADERS = {
    # No inline script anywhere: LLM text shown on pages is untrusted.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class LoginRequired(Exception):
    """The page needs a signed-in user; answered with a redirect to /login."""


class CsrfFailed(Exception):
    """A state-changing request without a matching Origin and CSRF token; answered with 403."""


def redirect(url: str) -> RedirectResponse:
    """A 303 redirect (after a form POST, the browser follows with GET)."""
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def set_login_cookie(request: Request, response: RedirectResponse, token: str) -> None:
    """Store the session token in an HttpOnly, SameSite=Lax cookie (Secure behind TLS)."""
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=14 * 24 * 3600,
    )


async def optional_session(request: Request) -> WebSession | None:
    """The signed-in session of this request, if any."""
    return await session_for(request.cookies.get(COOKIE))


async def signed_in(request: Request) -> WebSession:
    """The signed-in session, or a redirect to the login page."""
    session = await optional_session(request)
    if session is None:
        raise LoginRequired()
    return session


async def checked(request: Request) -> WebSession:
    """A signed-in session whose state-changing request carries its CSRF token and Origin."""
    session = await signed_in(request)
    form = await request.form()
    token = request.headers.get("x-csrf-token") or form.get("csrf_token")
    if not same_origin(request) or not csrf_ok(session, token if isinstance(token, str) else None):
        raise CsrfFailed()
    return session


SignedIn = Annotated[WebSession, Depends(signed_in)]
Checked = Annotated[WebSession, Depends(checked)]
