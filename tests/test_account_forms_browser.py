"""Sign-up, log-in and log-out as a person does them, in Debian's chromium on SQLite and
PostgreSQL: the forms filled and sent, and what they did checked in the database (the
account, its project, the server-side login session)."""

from __future__ import annotations

import secrets

from playwright.sync_api import Browser, expect

from tests import test_dashboard_browser as browser_tests
from tests.browser_forms import log_in, one
from tests.harness import Server
from tests.test_dashboard_accounts import PASSWORD
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)

pytestmark = browser_tests.pytestmark


def sessions_of(server: Server, email: str) -> int:
    """How many login sessions the account has in the database."""
    return int(one(server, "SELECT count(*) FROM login_sessions s JOIN users u "
                           "ON u.id = s.user_id WHERE u.email = ?", email))  # fmt: skip


def test_sign_up_log_in_and_out(browser: Browser, server: Server) -> None:  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    try:
        email = f"person-{secrets.token_hex(4)}@example.com"
        page.goto(server.base_url + "/signup")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url("**/login?signed_up=1**")
        expect(page.get_by_role("status")).to_contain_text("Your account is ready")
        user_id = one(server, "SELECT id FROM users WHERE email = ?", email)
        roles = server.query("SELECT role FROM memberships WHERE user_id = ?", user_id)
        assert roles == [("owner",)], "the account owns its first project"
        assert sessions_of(server, email) == 0, "signed up, not yet logged in"

        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_be_visible()
        assert sessions_of(server, email) == 0 and "/login" in page.url
        assert page.get_by_label("Email").input_value() == email, "the address is kept"

        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/settings/keys")  # after sign-up: make a key first
        assert sessions_of(server, email) == 1
        who = page.get_by_text(email, exact=True).filter(visible=True)  # bar or phone menu
        expect(who).to_have_count(1)  # who is logged in

        page.get_by_role("button", name="Log out").click()
        page.wait_for_url("**/login")
        assert sessions_of(server, email) == 0, "ended on the server, not only the cookie"
        page.goto(server.base_url + "/events")
        assert "/login" in page.url, "signed out: the pages ask to log in"

        log_in(page, server, email)  # again, from the login page: on to the overview
        assert page.url.rstrip("/") == server.base_url and sessions_of(server, email) == 1
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    finally:
        context.close()


def test_signing_up_again_changes_nothing(browser: Browser, server: Server) -> None:  # noqa: F811
    """A taken address gets the same answer as a new one (no enumeration), and its account
    keeps its password."""
    email = server.new_account(PASSWORD)
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(server.base_url + "/signup")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("another password entirely")
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url("**/login?signed_up=1**")
        assert one(server, "SELECT count(*) FROM users WHERE email = ?", email) == 1
        log_in(page, server, email, "another password entirely")
        expect(page.get_by_role("alert")).to_be_visible()
        log_in(page, server, email)
        assert "/login" not in page.url
    finally:
        context.close()
