"""Settings → Project as a person uses it, in Debian's chromium on SQLite and PostgreSQL:
every form typed, selected and submitted, and what it did checked in the database, not only
on the page. (API keys: tests/test_keys_form_browser.py.)"""

from __future__ import annotations

import secrets

from playwright.sync_api import Browser, expect

from tests import test_dashboard_browser as browser_tests
from tests.browser_forms import Account, logged_in, new_account, one
from tests.harness import Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)

pytestmark = browser_tests.pytestmark


def project_name(server: Server, project_id: int) -> str:
    """A project's name in the database."""
    return str(one(server, "SELECT name FROM projects WHERE id = ?", project_id))


def test_rename_and_keep_events_as_long_as_asked(browser: Browser, server: Server) -> None:  # noqa: F811
    with logged_in(browser, server) as (page, account):
        page.goto(server.base_url + "/settings/project")
        name = f"Support bot {secrets.token_hex(3)}"
        page.get_by_label("New name").fill(name)
        page.get_by_role("button", name="Rename").click()
        page.wait_for_url("**/settings/project")
        assert project_name(server, account.project_id) == name
        expect(page.get_by_role("heading", level=1)).to_contain_text(name)

        retention = page.get_by_label("Days of events to keep")
        retention.fill("30")
        page.get_by_role("button", name="Save retention").click()
        page.wait_for_url("**/settings/project")
        days = "SELECT retention_days FROM projects WHERE id = ?"
        assert one(server, days, account.project_id) == 30
        expect(
            page.get_by_text("Events are kept: 30 days (this project's setting)")
        ).to_be_visible()
        assert page.get_by_label("Days of events to keep").input_value() == "30"

        for bad in ("thirty", "-1", "99999999"):
            page.get_by_label("Days of events to keep").fill(bad)
            page.get_by_role("button", name="Save retention").click()
            expect(page.get_by_role("alert")).to_be_visible()
            assert one(server, days, account.project_id) == 30, f"{bad!r} changed nothing"

        page.get_by_label("Days of events to keep").fill("")
        page.get_by_role("button", name="Save retention").click()
        page.wait_for_url("**/settings/project")
        assert one(server, days, account.project_id) is None, "empty: the server's default"
        expect(page.get_by_text("(the server's default)")).to_be_visible()


def members(server: Server, project_id: int) -> dict[str, str]:
    """Each member's email and role, from the database."""
    rows = server.query(
        "SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.project_id = ?",
        project_id,
    )
    return dict(rows)


def test_add_a_member_create_and_switch_projects(browser: Browser, server: Server) -> None:  # noqa: F811
    with logged_in(browser, server) as (page, account):
        colleague: Account = new_account(server)
        page.goto(server.base_url + "/settings/project")
        page.get_by_label("Email of an existing account").fill(colleague.email)
        page.get_by_role("button", name="Add member").click()
        page.wait_for_url("**/settings/project")
        assert members(server, account.project_id) == {account.email: "owner",
                                                         colleague.email: "member"}  # fmt: skip
        expect(page.get_by_role("listitem").filter(has_text=colleague.email)).to_contain_text(
            "member"
        )
        page.get_by_label("Email of an existing account").fill("nobody@example.com")
        page.get_by_role("button", name="Add member").click()
        expect(page.get_by_role("alert")).to_be_visible()
        assert "nobody@example.com" not in members(server, account.project_id)

        original = project_name(server, account.project_id)
        second = f"Second {secrets.token_hex(3)}"
        page.get_by_label("Name", exact=True).fill(second)
        page.get_by_role("button", name="Create project").click()
        page.wait_for_url("**/settings/keys")
        made = one(server, "SELECT id FROM projects WHERE name = ?", second)
        assert members(server, made) == {account.email: "owner"}
        current = "SELECT project_id FROM login_sessions WHERE user_id = ?"
        assert one(server, current, account.user_id) == made, "switched to the new project"
        expect(page.get_by_role("heading", level=1)).to_contain_text(second)

        page.goto(server.base_url + "/settings/project")
        page.get_by_label("Project", exact=True).select_option(label=original)
        page.get_by_role("button", name="Switch").click()
        page.wait_for_url("**/events")
        assert one(server, current, account.user_id) == account.project_id
        page.goto(server.base_url + "/settings/project")
        expect(page.get_by_role("heading", level=1)).to_contain_text(original)
