"""The overview's range form as a person uses it, in Debian's chromium on both databases: each
field alone and together, typed and selected and submitted with Show (the form builds the
URL), the events counted on the page checked against the events stored in the window it names;
bad combinations said on the page in the form's words; the form and figures without JavaScript.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import test_dashboard_browser as browser_tests
from tests.browser_session import signed_in_tab
from tests.harness import Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)
from tests.test_dashboard_overview import log_batch
from tests.test_overview_periods import call, spans_at

pytestmark = browser_tests.pytestmark
FIELD = "%Y-%m-%dT%H:%M"  # what a datetime-local field holds


@pytest.fixture
def tab(browser: Browser, server: Server) -> Iterator[tuple[Page, str]]:  # noqa: F811
    """A signed-in tab (failing on page errors and CSP violations) and its project's key."""
    with signed_in_tab(browser, server, console_errors=True) as signed:
        yield signed


def stored_times(server: Server, event_id: str) -> list[datetime]:
    """When each event of `event_id`'s project was stored (the database, not the page)."""
    if server.backend == "postgres":
        where, ids = "id = ?", [event_id]
    else:  # however SQLite holds the UUID
        where, ids = "id IN (?, ?)", [event_id, event_id.replace("-", "")]
    rows = server.query(
        "SELECT created_at FROM events WHERE project_id = "  # noqa: S608 (no input)
        f"(SELECT project_id FROM events WHERE {where})",
        *ids,
    )
    return [_utc(row[0]) for row in rows]


def _utc(value: Any) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def shown_window(page: Page) -> tuple[datetime, datetime]:
    """The window the page says it shows."""
    text = page.locator("p.window").inner_text()
    found = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", text)
    assert len(found) == 2, text
    since, until = (datetime.strptime(at, "%Y-%m-%d %H:%M").replace(tzinfo=UTC) for at in found)
    return since, until


def submit(page: Page, since: str = "", until: str = "", bucket: str = "") -> None:
    """Fill the form as a person does (clearing what is not given) and press Show."""
    page.get_by_label("From (UTC)").fill(since)
    page.get_by_label("To (UTC)").fill(until)
    page.get_by_label("Bucket").select_option(label=bucket or "fit to range")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()


def counted(page: Page) -> int:
    """The Events card's value."""
    return int(page.locator('[data-figure="events"]').get_attribute("data-value") or "-1")


def check_against_data(page: Page, times: list[datetime]) -> tuple[datetime, datetime]:
    """The page's Events figure equals the stored events inside the window it names."""
    since, until = shown_window(page)
    assert counted(page) == sum(since <= at < until for at in times), (since, until)
    return since, until


def test_every_field_alone_and_together(server: Server, tab: tuple[Page, str]) -> None:
    page, key = tab
    spans_at(server, key, 30, [call("u1", "s1", 200), call("u1", "s1", 250)])
    spans_at(server, key, 3, [call("u2", "s2", 300)])
    (event_id,) = log_batch(server, key, [{"user_id": "u3"}])
    times = stored_times(server, event_id)
    assert len(times) == 4
    now = datetime.now(UTC)
    page.goto(server.base_url + "/")

    submit(page)  # nothing: the last 24 hours
    since, until = check_against_data(page, times)
    assert counted(page) == 2 and until - since == timedelta(hours=24)
    assert "one point per 1 hour" in page.locator("p.window").inner_text()

    submit(page, bucket="5 minutes")  # a Bucket alone: the same range, finer
    since, until = check_against_data(page, times)
    assert until - since == timedelta(hours=24) and "one point per 5 minutes" in page.content()
    assert page.get_by_label("Bucket").input_value() == "5m", "the form keeps the choice"

    page.get_by_role("link", name="7 days").click()
    submit(page, bucket="6 hours")  # a Bucket alone keeps the range picked from the links
    since, until = check_against_data(page, times)
    assert counted(page) == 4 and until - since >= timedelta(days=7)

    start = (now - timedelta(hours=40)).strftime(FIELD)
    submit(page, since=start)  # From alone: until now
    since, until = check_against_data(page, times)
    assert counted(page) == 4 and since <= now - timedelta(hours=40) and until >= now

    end = (now - timedelta(hours=20)).strftime(FIELD)
    submit(page, until=end)  # To alone: the 24 hours before it
    since, until = check_against_data(page, times)
    assert counted(page) == 2 and timedelta(hours=24) <= until - since <= timedelta(hours=25)

    start, end = ((now - timedelta(hours=h)).strftime(FIELD) for h in (32, 28))
    submit(page, since=start, until=end, bucket="15 minutes")  # all three
    since, until = check_against_data(page, times)
    assert counted(page) == 2 and "one point per 15 minutes" in page.content()
    assert page.get_by_label("From (UTC)").input_value() == start
    assert f"since={start.replace(':', '%3A')}" in page.url, "the form built the URL"

    submit(page, since=start, until=end)  # From and To, the bucket fitted
    check_against_data(page, times)


BAD = [  # (From hours ago, To hours ago, Bucket) -> what the page says
    ((2, 4, ""), "“To” must be after “From”."),
    ((-48, None, ""), "“From” is in the future"),
    ((24 * 30, 0, "1 minute"), "Bucket: 1 minute gives 43,200 points over 30 days"),
    ((3, 2, "24 hours"), "Bucket: 24 hours is longer than 1 hour; choose a smaller bucket."),
]


def test_bad_combinations_are_said_in_the_forms_words(
    server: Server, tab: tuple[Page, str]
) -> None:
    page, _ = tab
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    page.goto(server.base_url + "/")
    for (start, end, bucket), message in BAD:
        since = (now - timedelta(hours=start)).strftime(FIELD)
        until = "" if end is None else (now - timedelta(hours=end)).strftime(FIELD)
        submit(page, since=since, until=until, bucket=bucket)
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text(message)
        assert "since" not in alert.inner_text() and "until" not in alert.inner_text()
        assert page.get_by_label("From (UTC)").input_value() == since, "kept, to be fixed"
    page.get_by_role("link", name="30 days").click()
    submit(page, bucket="1 minute")
    expect(page.get_by_role("alert")).to_contain_text("choose 1 hour or more")
    submit(page, bucket="24 hours")  # fixed: the 30 days, day by day
    assert "one point per 24 hours" in page.locator("p.window").inner_text()


def test_the_form_and_figures_work_without_javascript(browser: Browser, server: Server) -> None:  # noqa: F811
    with signed_in_tab(browser, server) as (page, key):
        (event_id,) = log_batch(server, key, [{"metadata": {"model": "gpt-4o", "tokens_in": 7}}])
        times = stored_times(server, event_id)
        context = page.context.browser.new_context(java_script_enabled=False)  # type: ignore[union-attr]
        context.add_cookies(page.context.cookies())
        bare = context.new_page()
        try:
            bare.goto(server.base_url + "/?range=1h")
            submit(bare, bucket="5 minutes")
            check_against_data(bare, times)
            assert counted(bare) == 1 and "range=1h" in bare.url and "bucket=5m" in bare.url
            assert bare.locator('[data-figure="tokens_in"]').get_attribute("data-value") == "7"
            expect(bare.locator("tr.model-row")).to_contain_text("gpt-4o")
            assert "The charts need JavaScript" in bare.content()
        finally:
            context.close()
