"""The events page's status and tag filters, driven through the real form in chromium (select,
type, click Filter: never a hand-built URL), on both databases; the rows shown are checked
against a query of the stored data. Empty form fields are no filter (issue 20)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page

from tests import test_dashboard_browser as browser_tests
from tests.browser_session import signed_in_tab
from tests.harness import Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)
from tests.test_dashboard_overview import log_batch

pytestmark = browser_tests.pytestmark
# Whether the table's server-sent event stream is open (htmx's SSE extension keeps its
# EventSource in the element's internal data).
OPEN_STREAM = """() => {
  const source = document.querySelector("#rows")?.["htmx-internal-data"]?.sseEventSource;
  return source !== undefined && source.readyState === 1;
}"""


@pytest.fixture
def signed_in(browser: Browser, server: Server) -> Iterator[tuple[Page, str]]:  # noqa: F811
    """A tab signed in to a fresh account (failing on page errors), and a key of its project."""
    with signed_in_tab(browser, server, width=1440) as signed:
        yield signed


def shown(page: Page) -> list[str]:
    """The event ids of the table's rows, top to bottom."""
    ids = page.locator("tr.event-row").evaluate_all("rows => rows.map(r => r.id)")
    return [row_id.removeprefix("ev-") for row_id in ids]


def stored(server: Server, project_id: int, where: str, *params: object) -> list[str]:
    """The project's event ids matching `where`, newest first, straight from the database."""
    rows = server.query(
        f"SELECT CAST(id AS TEXT) FROM events WHERE project_id = ? AND {where} "  # noqa: S608
        "ORDER BY created_at DESC, id DESC",
        project_id, *params,
    )  # fmt: skip
    return [str(row[0]) for row in rows]


def submit(page: Page, status: str, tag: str) -> dict[str, list[str]]:
    """Fill the form as a person does and press Filter; the query string it led to."""
    page.get_by_label("Status").select_option(status)
    page.get_by_label("Tag").fill(tag)
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    return parse_qs(urlparse(page.url).query, keep_blank_values=True)


def test_status_and_tag_filters_through_the_form(
    server: Server, signed_in: tuple[Page, str]
) -> None:
    page, key = signed_in
    ids = log_batch(server, key, [
        {"input": "failed in prod", "tags": ["prod", "checkout"], "error": "timeout"},
        {"input": "fine in prod", "tags": ["prod"], "status": "ok"},
        {"input": "failed in dev", "tags": ["dev"], "status": "error"},
        {"input": "failed, untagged", "error": "rate limited"},
        {"input": "unknown status", "tags": ["prod"]},
    ])  # fmt: skip
    [(project_id,)] = server.query(
        "SELECT project_id FROM events WHERE CAST(id AS TEXT) = ?", ids[0]
    )
    page.goto(server.base_url + "/events")
    assert len(shown(page)) == 5

    # Status alone: the empty Tag field (sent as "tag=") filters nothing.
    query = submit(page, "error", "")
    assert query["status"] == ["error"] and query["tag"] == [""]
    errors = stored(server, project_id, "status = ?", "error")
    assert shown(page) == errors and set(errors) == {ids[0], ids[2], ids[3]}

    # Status and tag together; the form keeps what was chosen, the URL says it.
    query = submit(page, "error", "prod")
    assert query["status"] == ["error"] and query["tag"] == ["prod"]
    both = stored(
        server, project_id,
        "status = ? AND id IN (SELECT event_id FROM event_tags WHERE tag = ?)", "error", "prod",
    )  # fmt: skip
    assert shown(page) == both == [ids[0]]
    assert page.get_by_label("Status").input_value() == "error"
    assert page.get_by_label("Tag").input_value() == "prod"
    row = page.locator(f"#ev-{ids[0]}")
    assert row.locator("td.status").inner_text() == "error"
    assert row.locator("td.tags").inner_text().split() == ["prod", "checkout"]

    # Live: a new event that matches arrives on the filtered page; those that do not, never.
    page.wait_for_function(OPEN_STREAM)  # the page's event stream opens after the page loads
    [late_miss, late_hit] = log_batch(server, key, [
        {"input": "live, wrong tag", "tags": ["dev"], "error": "x"},
        {"input": "live, matching", "tags": ["prod"], "status": "error"},
    ])  # fmt: skip
    page.locator(f"#ev-{late_hit}").wait_for(timeout=10_000)  # pushed over SSE: no reload
    assert shown(page) == [late_hit, ids[0]] and late_miss not in shown(page)
    ids += [late_miss, late_hit]

    # Tag alone ("any" status), then nothing at all: every event again.
    submit(page, "", "prod")
    tagged = stored(server, project_id, "id IN (SELECT event_id FROM event_tags WHERE tag = ?)",
                    "prod")  # fmt: skip
    assert shown(page) == tagged and len(tagged) == 4
    submit(page, "", "")
    assert sorted(shown(page)) == sorted(ids)

    # Other empty fields beside a chosen one filter nothing either (issue 20): feedback "any",
    # model, user and session empty.
    page.get_by_label("Model").fill("")
    submit(page, "ok", "")
    assert shown(page) == [ids[1]]
    assert re.search(r"[?&]model=(&|$)", page.url)


def test_event_page_shows_status_error_and_tags(
    server: Server, signed_in: tuple[Page, str]
) -> None:
    page, key = signed_in
    [event_id] = log_batch(server, key, [{"tags": ["prod", "eu"], "error": "upstream 502"}])
    page.goto(f"{server.base_url}/events/{event_id}")
    assert page.locator("pre.error").inner_text() == "upstream 502"
    facts = page.locator("dl.facts").inner_text()
    assert "error" in facts and "prod" in facts and "eu" in facts
