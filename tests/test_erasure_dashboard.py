"""Erasing an end user from the dashboard: in a real browser, an owner goes from the end users
list to the user's page, asks to erase, confirms on the confirmation page (a plain form: no
JavaScript needed) and sees the counts; over HTTP, a member is refused by the server whatever
they send, and a form without its CSRF token erases nothing."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests import test_dashboard_browser as browser_tests
from tests.browser_session import signed_in_tab
from tests.harness import Server
from tests.test_dashboard_accounts import create_key, csrf_of
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)
from tests.test_dashboard_roles import Project, project  # noqa: F401  (fixture)

USER = "alice/ü <b>&"  # a slash, Unicode, and text that must stay text


def log_for(server: Server, key: str, user_id: str, count: int = 2) -> None:
    """`count` events of `user_id`, the first with feedback."""
    bodies = [{"input": "q", "output": "a", "user_id": user_id} for _ in range(count)]
    headers = {"Authorization": f"Bearer {key}"}
    answer = httpx.post(f"{server.base_url}/api/v1/events/batch", json={"events": bodies},
                        headers=headers)  # fmt: skip
    first = answer.json()["results"][0]["event_id"]
    url = f"{server.base_url}/api/v1/events/{first}/feedback"
    assert httpx.post(url, json={"score": 0}, headers=headers).status_code == 201


def events_of(server: Server, user_id: str) -> int:
    return int(server.query("SELECT COUNT(*) FROM events WHERE user_id = ?", user_id)[0][0])


@pytest.fixture
def tab(browser: Browser, server: Server) -> Iterator[tuple[Page, str]]:  # noqa: F811
    if server.backend != "sqlite":
        pytest.skip("the browser flow runs once, on the SQLite server")
    with signed_in_tab(browser, server, console_errors=True) as signed:
        yield signed


@browser_tests.pytestmark
def test_an_owner_erases_an_end_user_from_its_page(server: Server, tab: tuple[Page, str]) -> None:
    page, key = tab
    log_for(server, key, USER)
    page.goto(server.base_url + "/users")
    page.get_by_role("link", name=USER).click()
    expect(page.get_by_role("heading", name=f"End user {USER}")).to_be_visible()
    page.get_by_role("link", name="Erase this end user…").click()
    expect(page.get_by_role("heading", name="Erase this end user?")).to_be_visible()
    assert events_of(server, USER) == 2, "asking is not erasing"
    page.get_by_role("button", name=f"Yes, erase {USER}").click()
    expect(page.get_by_role("heading", name="Erased")).to_be_visible()
    assert page.locator('[data-count="events"]').inner_text() == "2"
    assert page.locator('[data-count="feedback"]').inner_text() == "1"
    assert events_of(server, USER) == 0
    page.goto(server.base_url + "/users")
    expect(page.get_by_role("link", name=USER)).to_have_count(0)


def test_a_member_is_refused_by_the_server(project: Project) -> None:  # noqa: F811
    server, user = project.server, "member-cannot-erase"
    log_for(server, create_key(project.owner), user, count=1)
    profile = project.member.get(f"/users/profile?user={quote(user)}")
    assert profile.status_code == 200 and "/users/erase" not in profile.text
    asked = project.member.get(f"/users/erase?user={quote(user)}")
    assert asked.status_code == 403 and "only the project&#39;s owner can" in asked.text
    token = csrf_of(project.member.get("/settings/project").text)
    posted = project.member.post("/users/erase", data={"csrf_token": token, "user": user})
    assert posted.status_code == 403 and "only the project&#39;s owner can" in posted.text
    forged = project.owner.post("/users/erase", data={"user": user})  # no CSRF token
    assert forged.status_code == 403
    assert events_of(server, user) == 1
    owner_profile = project.owner.get(f"/users/profile?user={quote(user)}")
    assert "/users/erase?user=" in owner_profile.text
    confirm = project.owner.get(f"/users/erase?user={quote(user)}")
    token = csrf_of(confirm.text)
    done = project.owner.post("/users/erase", data={"csrf_token": token, "user": user})
    assert done.status_code == 200 and 'data-count="events">1<' in done.text
    assert events_of(server, user) == 0
