"""Sign up, log in, log out: labelled forms that work without JavaScript.

Sign-up never says whether the address was free: it answers with the login page either way
(see app/services/accounts.py), and the new account's owner logs in from there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.errors import PhosphoError
from app.origin import same_origin
from app.services import accounts
from app.services.login_throttle import LoginLimits
from app.settings import Settings
from web.security import COOKIE, CsrfFailed, redirect, set_login_cookie
from web.templating import render

Text = Annotated[str, Form(max_length=1000)]
AFTER_SIGN_UP = "/login?signed_up=1&next=/settings/keys"

router = APIRouter(include_in_schema=False)


def login_limits(settings: Settings) -> LoginLimits:
    """The login throttle's budgets, from the settings."""
    return LoginLimits(
        per_account_address=settings.login_failures_per_account_address,
        per_address=settings.login_failures_per_address,
        per_account=settings.login_failures_per_account,
        window=timedelta(seconds=settings.login_window_seconds),
    )


def _safe_next(target: str | None) -> str:
    # Only local paths: an attacker-supplied ?next=https://evil must not redirect away.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/signup", response_class=HTMLResponse)
async def signup_page(request: Request) -> HTMLResponse:
    """The sign-up form (or a notice when sign-up is closed)."""
    return _signup_form(request)


@router.post("/signup", response_model=None)
async def signup(request: Request, email: Text, password: Text) -> HTMLResponse | RedirectResponse:
    """Create the account and its first project (unless the address has one), then on to
    the login page: the same answer for a new and a taken address."""
    if not same_origin(request):
        raise CsrfFailed()
    if not request.app.state.settings.signup_enabled:
        return _signup_form(request, status_code=403)
    try:
        await accounts.sign_up(email, password)
    except PhosphoError as exc:  # the address or password breaks a rule: says which
        return _signup_form(request, exc.message, email, exc.status_code)
    return redirect(AFTER_SIGN_UP)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/", signed_up: bool = False) -> HTMLResponse:
    """The login form (after a sign-up, with a word on what to do)."""
    return _login_form(request, next=_safe_next(next), signed_up=signed_up)


@router.post("/login", response_model=None)
async def login(
    request: Request, email: Text, password: Text, next: Text = "/"
) -> HTMLResponse | RedirectResponse:
    """Check the password; on success a fresh session (the old cookie is replaced)."""
    if not same_origin(request):
        raise CsrfFailed()
    settings = request.app.state.settings
    address = request.client.host if request.client else None
    try:
        token = await accounts.log_in(email, password, address, login_limits(settings))
    except PhosphoError as exc:
        form = _login_form(request, exc.message, email, _safe_next(next), exc.status_code)
        if exc.retry_after is not None:
            form.headers["Retry-After"] = str(exc.retry_after)
        return form
    await accounts.log_out(request.cookies.get(COOKIE))
    response = redirect(_safe_next(next))
    set_login_cookie(request, response, token)
    return response


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    """Delete the session server-side and forget the cookie."""
    if not same_origin(request):
        raise CsrfFailed()
    await accounts.log_out(request.cookies.get(COOKIE))
    response = redirect("/login")
    response.delete_cookie(COOKIE)
    return response


def _signup_form(
    request: Request,
    error: str | None = None,
    email: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    enabled = request.app.state.settings.signup_enabled
    context = {"error": error, "email": email, "enabled": enabled}
    return render(request, "signup.html", context, status_code)


def _login_form(
    request: Request,
    error: str | None = None,
    email: str = "",
    next: str = "/",
    status_code: int = 200,
    signed_up: bool = False,
) -> HTMLResponse:
    context = {"error": error, "email": email, "next": next, "signed_up": signed_up}
    return render(request, "login.html", context, status_code)
