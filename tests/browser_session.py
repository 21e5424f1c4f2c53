"""A browser tab signed in to a fresh dashboard account, for the browser tests: the account
made over HTTP (sign-up, then a key of its project), its login cookie handed to a new
context, and every JavaScript error (and, with `console_errors`, every console error, CSP
violations included) failing the test when the tab closes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page

from app.services.accounts import SESSION_COOKIE
from tests.harness import Server
from tests.test_dashboard_accounts import browser as http_client
from tests.test_dashboard_accounts import create_key, sign_up


@contextmanager
def signed_in_tab(
    browser: Browser, server: Server, *, width: int = 1280, console_errors: bool = False
) -> Iterator[tuple[Page, str]]:
    """The tab and the project's key."""
    with http_client(server) as client:
        sign_up(client)
        key = create_key(client)
        cookie = client.cookies[SESSION_COOKIE]
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": server.base_url}])
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    if console_errors:
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield tab, key
    context.close()
    assert not errors, f"JavaScript errors or CSP violations: {errors}"
