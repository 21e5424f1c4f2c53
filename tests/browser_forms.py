"""What the settings forms' browser tests share: an account logged in through the login form
in a fresh browser context, and the database reads that check what a form did.

Controls are found by label, role and button text (which the pages keep when restyled), never
by CSS class or layout."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Browser, Page

from tests.harness import Server
from tests.test_dashboard_accounts import PASSWORD


@dataclass(frozen=True)
class Account:
    """A dashboard account made for one test, and the project it owns."""

    email: str
    user_id: int
    project_id: int


def new_account(server: Server) -> Account:
    """An account owning a project, made straight in the database (no argon2 per test)."""
    email = server.new_account(PASSWORD)
    user_id = one(server, "SELECT id FROM users WHERE email = ?", email)
    project_id = one(server, "SELECT project_id FROM memberships WHERE user_id = ?", user_id)
    return Account(email, user_id, project_id)


def one(server: Server, sql: str, *params: Any) -> Any:
    """The single value a query returns."""
    rows = server.query(sql, *params)
    assert len(rows) == 1, (sql, params, rows)
    return rows[0][0]


def log_in(page: Page, server: Server, email: str, password: str = PASSWORD) -> None:
    """Fill and send the login form as a person does."""
    page.goto(server.base_url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


@contextmanager
def logged_in(browser: Browser, server: Server) -> Iterator[tuple[Page, Account]]:
    """A tab logged in (through the form) to a new account; JavaScript errors fail the test."""
    account = new_account(server)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, server, account.email)
    assert "/login" not in page.url, "logged in"
    yield page, account
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
