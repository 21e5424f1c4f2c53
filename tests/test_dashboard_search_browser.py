"""The events page's Search box and Sort select, driven through the real form in chromium
(type, select, press Filter: never a hand-built URL), on both databases: the rows shown are the
stored events that match (checked against the rule over a query of the data), the matched word
starts are in `<mark>`, and hostile event text stays text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests import test_dashboard_browser as browser_tests
from tests.browser_session import signed_in_tab
from tests.harness import Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)
from tests.test_dashboard_event_filters_browser import shown
from tests.test_dashboard_overview import log_batch
from tests.test_search import reference_match

pytestmark = browser_tests.pytestmark
SHOTS = Path("/work/wt/shared/shots/search")


@pytest.fixture
def signed_in(browser: Browser, server: Server) -> Iterator[tuple[Page, str]]:  # noqa: F811
    """A tab signed in to a fresh account (failing on page errors), and a key of its project."""
    with signed_in_tab(browser, server, width=1440) as signed:
        yield signed


def matching(server: Server, project_id: int, query: str) -> list[str]:
    """The project's stored events that match `query` by the rule, newest first."""
    rows = server.query(
        "SELECT CAST(id AS TEXT), input, output FROM events WHERE project_id = ? "
        "ORDER BY created_at DESC, id DESC", project_id,
    )  # fmt: skip
    return [str(i) for i, text_in, text_out in rows if reference_match(query, text_in, text_out)]


def search(page: Page, text: str, sort: str = "") -> None:
    """Type in the Search box, choose the order, press Filter."""
    page.get_by_label("Search").fill(text)
    page.get_by_label("Sort").select_option(sort)
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()


EVENTS = [
    {"input": "How do I call GPT-4o from Python?", "output": "Use the client."},
    {"input": "gpt-3.5 or gpt-4?", "output": "gpt-4o is the newer one: GPT 4o."},
    {"input": "refund please", "output": "Your refund was sent."},
    {"input": "<script>alert('gpt')</script> & <b>4o</b>", "output": "hostile"},
    {"input": "nothing to see", "output": "here"},
]


def test_search_box_lists_matches_with_highlights(
    server: Server, signed_in: tuple[Page, str]
) -> None:
    page, key = signed_in
    ids = log_batch(server, key, EVENTS)
    [(project_id,)] = server.query(
        "SELECT project_id FROM events WHERE CAST(id AS TEXT) = ?", ids[0]
    )
    page.goto(server.base_url + "/events")
    assert len(shown(page)) == len(EVENTS)

    search(page, "gpt 4o")
    assert re.search(r"[?&]q=gpt\+4o(&|$)", page.url)
    expected = matching(server, project_id, "gpt 4o")
    assert len(expected) == 3 and shown(page) == expected
    marks = page.locator("tr.event-row mark").all_inner_texts()
    assert {m.lower() for m in marks} == {"gpt", "4o"}
    # The hostile text is shown as text: no element was made of it, the marks inside it too.
    hostile = page.locator(f"#ev-{ids[3]} td.text").first
    assert "<script>" in hostile.inner_text()
    assert hostile.locator("script, b").count() == 0
    assert hostile.locator("mark").all_inner_texts() == ["gpt", "4o"]
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        page.screenshot(path=str(SHOTS / f"search-{server.backend}-1440-{scheme}.png"))

    # Best match: the same rows, one ranked page; the select keeps its choice.
    search(page, "gpt 4o", "best")
    assert sorted(shown(page)) == sorted(expected)
    assert page.get_by_label("Sort").input_value() == "best"

    # No match, then punctuation only (no filter: every event).
    search(page, "zzz")
    assert shown(page) == []
    search(page, "-- !!")
    assert len(shown(page)) == len(EVENTS)


def test_search_at_390px(browser: Browser, server: Server) -> None:  # noqa: F811
    """The form with its Sort select at phone width (screenshots, light and dark)."""
    with signed_in_tab(browser, server, width=390) as (page, key):
        log_batch(server, key, EVENTS[:3])
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(server.base_url + "/events")
        search(page, "refund")
        assert len(shown(page)) == 1
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
            page.screenshot(path=str(SHOTS / f"search-{server.backend}-390-{scheme}.png"),
                            full_page=True)  # fmt: skip
