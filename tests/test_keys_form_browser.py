"""Settings → API keys as a person uses it, in Debian's chromium on SQLite and PostgreSQL:
create a key (shown once), revoke it; checked in the database and through the API."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests import test_dashboard_browser as browser_tests
from tests.browser_forms import logged_in, one
from tests.harness import Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)

pytestmark = browser_tests.pytestmark


def log_event(server: Server, key: str) -> int:
    """POST one event with `key`: the status code."""
    response = httpx.post(server.base_url + "/api/v1/events", json={"input": "q", "output": "a"},
                          headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    return response.status_code


def create_key(page: Page, name: str) -> str:
    """Create a key with the form; the key as the page shows it (once)."""
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create API key").click()
    shown = page.locator("code", has_text=re.compile(r"^ph_[\w-]{30,}$"))  # not a "ph_…" prefix
    expect(shown).to_have_count(1)
    return shown.inner_text().strip()


def test_create_a_key_see_it_once_and_revoke_it(browser: Browser, server: Server) -> None:  # noqa: F811
    with logged_in(browser, server) as (page, account):
        page.goto(server.base_url + "/settings/keys")
        key = create_key(page, "laptop")
        rows = server.query(
            "SELECT name, project_id, revoked_at FROM api_keys WHERE prefix = ?", key[:11]
        )
        assert rows == [("laptop", account.project_id, None)], "stored in this project"
        assert log_event(server, key) == 201, "the key works"

        unnamed = create_key(page, "")
        assert one(server, "SELECT name FROM api_keys WHERE prefix = ?", unnamed[:11]) == "default"

        page.goto(server.base_url + "/settings/keys")
        assert key not in page.content() and unnamed not in page.content(), "shown once only"
        row = page.get_by_role("row").filter(has_text="laptop")
        expect(row).to_contain_text("active")
        row.get_by_text("Revoke", exact=True).click()
        row.get_by_role("button", name=re.compile(r"^Yes, revoke ")).click()
        page.wait_for_url("**/settings/keys")
        expect(page.get_by_role("row").filter(has_text="laptop")).to_contain_text("revoked")
        revoked = one(server, "SELECT revoked_at FROM api_keys WHERE prefix = ?", key[:11])
        assert revoked is not None
        assert log_event(server, key) == 401, "refused from now on"
        assert log_event(server, unnamed) == 201, "the other key is untouched"
