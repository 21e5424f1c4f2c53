"""Dashboard security: the login cookie, CSRF (token + Origin), and the headers of every page.

Pages set their headers themselves (see `render`) instead of through a global middleware, so
the ingest API pays nothing for the dashboard.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

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


def render(
    templates: Jinja2Templates,
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    """A page, with the security headers."""
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


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


def same_origin(request: Request) -> bool:
    """Whether the request's Origin (or, failing that, Referer) is this server."""
    expected = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == expected
    referer = request.headers.get("referer", "")
    return referer == expected or referer.startswith(expected + "/")


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
