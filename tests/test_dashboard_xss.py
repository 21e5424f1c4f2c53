"""Stored XSS: LLM text and client-supplied ids are untrusted; nothing may execute on any page."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page

from tests.harness import Server
from tests.test_dashboard_browser import browser, goto_live, page  # noqa: F401  (fixtures)

PAYLOADS = [
    "<script>window.__xss = 'script'</script>",
    "<img src=x onerror=\"window.__xss = 'onerror'\">",
    "<svg onload=\"window.__xss = 'svg'\"></svg>",
    "<a href=\"javascript:window.__xss='link'\">click</a>",
    "<iframe srcdoc=\"<script>parent.__xss='srcdoc'</script>\"></iframe>",
    "\"><script>window.__xss = 'attr'</script>",
    "javascript:window.__xss='href'",
]


def assert_nothing_ran(tab: Page, where: str) -> None:
    """No payload ran and no dialog opened on this page."""
    tab.wait_for_timeout(200)
    assert tab.evaluate("window.__xss === undefined"), f"a payload executed on {where}"


@pytest.mark.usefixtures("browser")
def test_no_payload_executes_on_any_page(server: Server, page: Page) -> None:  # noqa: F811
    if server.backend != "sqlite":
        pytest.skip("the browser test runs once, on the SQLite server")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server.base_url + "/signup")
    page.get_by_label("Email").fill("xss@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(re.compile(r".*/login\?signed_up=1"))
    page.get_by_label("Email").fill("xss@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Create API key").click()
    key = page.locator("#new-key").inner_text().strip()
    auth = {"Authorization": f"Bearer {key}"}

    goto_live(page, server.base_url + "/events", "/live/events")  # payloads also arrive live
    ids = []
    for n, payload in enumerate(PAYLOADS):
        text = payload[:200]
        metadata = {"model": text, payload: payload}
        body = {"input": payload, "output": payload, "user_id": text,
                "session_id": f"{text}-{n}", "metadata": metadata}  # fmt: skip
        event = httpx.post(server.base_url + "/api/v1/events", json=body, headers=auth).json()
        url = f"{server.base_url}/api/v1/events/{event['event_id']}/feedback"
        httpx.post(url, json={"score": 0, "comment": payload}, headers=auth).raise_for_status()
        ids.append(event)
    page.locator("tr.event-row").nth(len(PAYLOADS) - 1).wait_for(timeout=10_000)
    assert_nothing_ran(page, "the live events table")

    pages = ["/events", "/sessions", "/users", "/settings/keys", "/settings/project"]
    pages += [f"/events/{event['event_id']}" for event in ids]
    pages += [f"/sessions/{quote(event['session_id'])}" for event in ids]
    for path in pages:
        response = page.goto(server.base_url + path)
        assert response is not None and response.status == 200, path
        assert_nothing_ran(page, path)
    assert not dialogs
