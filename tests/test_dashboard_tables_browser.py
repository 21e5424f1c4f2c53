"""The data tables' side panel, keyboard and long texts, used as a person does in chromium on
both databases: click a row (the panel shows the stored event, the URL changes, the list keeps
its scroll and its live stream), the back button, j/k/Enter/Esc, and a 1 MB input that must
not make a 130,000 px page (issue 20)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import test_dashboard_browser as browser_tests
from tests.browser_session import signed_in_tab
from tests.harness import Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)
from tests.test_dashboard_event_filters_browser import OPEN_STREAM, shown, stored
from tests.test_dashboard_overview import log_batch

pytestmark = browser_tests.pytestmark
MEGABYTE = 1024 * 1024
SCROLL_Y = "() => window.scrollY"
PAGE_HEIGHT = "() => document.scrollingElement.scrollHeight"


@pytest.fixture
def signed_in(browser: Browser, server: Server) -> Iterator[tuple[Page, str]]:  # noqa: F811
    """A tab 1440 px wide signed in to a fresh account, failing on errors and CSP reports."""
    with signed_in_tab(browser, server, width=1440, console_errors=True) as signed:
        yield signed


def project_of(server: Server, event_id: str) -> int:
    """The project of a stored event."""
    [(project_id,)] = server.query(
        "SELECT project_id FROM events WHERE CAST(id AS TEXT) = ?", event_id
    )
    return int(project_id)


def panel_event(page: Page) -> str:
    """The id of the event the side panel shows (waiting for it to show one)."""
    title = page.locator("#panel .detail-title code")
    title.wait_for(timeout=10_000)
    return title.inner_text()


def test_a_row_opens_in_the_panel_keeping_scroll_and_live_rows(
    server: Server, signed_in: tuple[Page, str]
) -> None:
    page, key = signed_in
    ids = log_batch(server, key, [{"input": f"question {n:02d}", "output": f"answer {n:02d}"}
                                  for n in range(50)])  # fmt: skip
    project_id = project_of(server, ids[0])
    page.goto(server.base_url + "/events")
    page.wait_for_function(OPEN_STREAM)
    assert shown(page) == stored(server, project_id, "1 = 1")
    page.mouse.wheel(0, 600)
    page.wait_for_function("() => window.scrollY > 0")
    before = page.evaluate(SCROLL_Y)

    target = shown(page)[20]
    page.locator(f"#ev-{target} td.text").first.click()  # a click anywhere on the row
    assert panel_event(page) == target
    assert urlparse(page.url).path == f"/events/{target}"
    [(stored_input,)] = server.query("SELECT input FROM events WHERE CAST(id AS TEXT) = ?", target)
    assert page.locator("#panel pre.message").first.inner_text() == stored_input
    assert page.evaluate(SCROLL_Y) == before, "the list keeps its scroll position"

    [late] = log_batch(server, key, [{"input": "arrives while the panel is open"}])
    page.locator(f"#ev-{late}").wait_for(timeout=10_000)  # pushed over SSE into the list
    assert shown(page)[0] == late and panel_event(page) == target

    page.go_back()
    page.wait_for_url(server.base_url + "/events")
    expect(page.locator("#panel > *")).to_have_count(0)
    page.wait_for_function(OPEN_STREAM)  # the restored list is live again
    assert shown(page) == stored(server, project_id, "1 = 1")[:50]

    page.goto(f"{server.base_url}/events/{target}")  # a visit (or reload): the event's page
    assert page.locator("h1 code").inner_text() == target
    assert page.locator("#rows").count() == 0


def test_sessions_and_users_open_in_the_panel(server: Server, signed_in: tuple[Page, str]) -> None:
    page, key = signed_in
    log_batch(server, key, [
        {"input": "hello", "output": "hi", "session_id": "conv-a", "user_id": "ann"},
        {"input": "and then?", "output": "then this", "session_id": "conv-a", "user_id": "ann"},
        {"input": "other", "output": "reply", "session_id": "conv-b", "user_id": "bo"},
    ])  # fmt: skip
    page.goto(server.base_url + "/sessions")
    page.get_by_role("link", name="conv-a").click()
    expect(page.locator("#panel .bubble pre")).to_have_text(
        ["hello", "hi", "and then?", "then this"]
    )
    assert urlparse(page.url).path == "/sessions/conv-a"
    page.keyboard.press("Escape")
    expect(page.locator("#panel > *")).to_have_count(0)
    assert urlparse(page.url).path == "/sessions"

    page.goto(server.base_url + "/users")
    page.locator("tr.user-row", has_text="bo").locator("td.num").first.click()  # not a link
    expect(page.locator("#panel .detail-title")).to_have_text("End user bo")
    assert page.url.endswith("/users/profile?user=bo")
    page.go_back()
    page.wait_for_url(server.base_url + "/users")
    expect(page.locator("#panel > *")).to_have_count(0)


def test_keys_j_k_enter_and_escape(server: Server, signed_in: tuple[Page, str]) -> None:
    page, key = signed_in
    log_batch(server, key, [{"input": f"row {n}", "status": "ok"} for n in range(5)])
    page.goto(server.base_url + "/events")
    page.get_by_label("Status").select_option("ok")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    list_url = page.url
    rows = shown(page)
    selected = page.locator("tr.event-row.selected")

    for key_name, index in [("j", 0), ("j", 1), ("j", 2), ("k", 1)]:
        page.keyboard.press(key_name)
        expect(selected).to_have_id(f"ev-{rows[index]}")
    page.get_by_label("Model").press("j")  # typing in a field moves nothing
    assert page.get_by_label("Model").input_value() == "j"
    expect(selected).to_have_id(f"ev-{rows[1]}")

    page.locator("h1").first.click()  # out of the field: Enter opens the selected row
    page.keyboard.press("Enter")
    assert panel_event(page) == rows[1]
    assert urlparse(page.url).path == f"/events/{rows[1]}"
    page.keyboard.press("Escape")
    expect(page.locator("#panel > *")).to_have_count(0)
    assert page.url == list_url, "Esc goes back to the list as it was (its filters kept)"
    page.keyboard.press("j")
    expect(selected).to_have_id(f"ev-{rows[2]}")


def test_a_one_megabyte_input_keeps_the_page_short(
    server: Server, signed_in: tuple[Page, str]
) -> None:
    page, key = signed_in
    huge = ("a line of a very long prompt\n" * (MEGABYTE // 29 + 1))[:MEGABYTE]
    [event_id] = log_batch(server, key, [{"input": huge, "output": "short"}])
    page.goto(f"{server.base_url}/events/{event_id}")
    assert page.evaluate(PAGE_HEIGHT) < 3_000
    assert "1,048,576 characters" in page.get_by_text("Show all").first.inner_text()
    page.get_by_text("Show all").first.click()  # the whole text, when asked for
    assert page.evaluate(PAGE_HEIGHT) > 100_000

    page.goto(server.base_url + "/events")
    cell = page.locator(f"#ev-{event_id} td.text").first
    assert len(cell.inner_text()) <= 160 and len(cell.get_attribute("title") or "") <= 1_000
    assert page.evaluate(PAGE_HEIGHT) < 2_000
    cell.click()
    assert panel_event(page) == event_id
    assert page.evaluate(PAGE_HEIGHT) < 3_000
