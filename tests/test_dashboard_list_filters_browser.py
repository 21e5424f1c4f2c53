"""The filter forms of the events, sessions and end-users lists, driven in chromium as a person
does (type, select, click Filter and Clear: never a hand-built URL) on both databases; the rows
shown are compared with a query of the stored data. Every field works alone (an empty field is
no filter), a value the list cannot use is a message on the page, and an empty list says
whether nothing matches or nothing has arrived yet (issue 20)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import test_dashboard_browser as browser_tests
from tests.browser_session import signed_in_tab
from tests.harness import Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)
from tests.test_dashboard_event_filters_browser import OPEN_STREAM, shown, stored
from tests.test_dashboard_overview import feedback, log_batch
from tests.test_dashboard_tables_browser import project_of

pytestmark = browser_tests.pytestmark


@pytest.fixture
def signed_in(browser: Browser, server: Server) -> Iterator[tuple[Page, str]]:  # noqa: F811
    """A tab signed in to a fresh account (failing on JavaScript errors), and its key. (Not on
    console errors: chromium logs the 422 of a refused filter as one.)"""
    with signed_in_tab(browser, server, width=1440) as signed:
        yield signed


def as_time(value: object) -> datetime:
    """A time read from either database (SQLite gives text)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def second_after(server: Server, column: str, table: str, project_id: int) -> datetime:
    """The first whole second after the latest `column` of the project's rows, once the clock
    has passed it: what is logged from then on is at or after it, what came before is not."""
    [(latest,)] = server.query(
        f"SELECT MAX({column}) FROM {table} WHERE project_id = ?",  # noqa: S608
        project_id,
    )
    boundary = as_time(latest).replace(microsecond=0) + timedelta(seconds=1)
    while datetime.now(UTC) < boundary:  # under a second: the boundary is the clock itself
        time.sleep(0.05)
    return boundary


def as_param(server: Server, moment: datetime) -> object:
    """A time as the database compares it (SQLite stores text)."""
    return moment.isoformat(" ") if server.backend == "sqlite" else moment


def form_time(moment: datetime) -> str:
    """How a person types a time into a datetime-local field (UTC, to the second)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def press(page: Page, button: str = "Filter") -> None:
    """Submit the form (or follow Clear) and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role("link" if button == "Clear" else "button", name=button, exact=True).click()


def fill(page: Page, **fields: str) -> None:
    """Fill the form's fields by their labels, then press Filter."""
    for label, value in fields.items():
        page.get_by_label(label.replace("_", " "), exact=True).fill(value)
    press(page)


def rows_of(page: Page, attribute: str) -> list[str]:
    """The list's rows, top to bottom, by their `data-` attribute."""
    return page.locator(f"#rows > tr[data-{attribute}]").evaluate_all(
        f"rows => rows.map(r => r.dataset.{attribute})"
    )


def test_sessions_form(server: Server, signed_in: tuple[Page, str]) -> None:
    page, key = signed_in
    page.goto(server.base_url + "/sessions")
    expect(page.locator("#first-run")).to_be_visible()  # nothing yet: the first-run guide
    early = log_batch(server, key, [
        {"session_id": "s-a1", "user_id": "alice"}, {"session_id": "s-b1", "user_id": "bob"},
    ])  # fmt: skip
    project_id = project_of(server, early[0])
    boundary = second_after(server, "last_event_at", "sessions", project_id)
    log_batch(server, key, [{"session_id": "s-a2", "user_id": "alice"}, {"session_id": "s-c1"}])

    def expected(where: str, *params: object) -> list[str]:
        rows = server.query(
            f"SELECT session_key FROM sessions WHERE project_id = ? AND {where} "  # noqa: S608
            "ORDER BY last_event_at DESC, id DESC",
            project_id, *params,
        )  # fmt: skip
        return [str(row[0]) for row in rows]

    page.goto(server.base_url + "/sessions")
    fill(page, End_user="alice")
    assert rows_of(page, "session") == expected("user_id = ?", "alice") == ["s-a2", "s-a1"]
    fill(page, End_user="", Active_from=form_time(boundary))  # a time alone
    since = expected("last_event_at >= ?", as_param(server, boundary))
    assert rows_of(page, "session") == since and set(since) == {"s-a2", "s-c1"}
    fill(page, End_user="alice")  # both
    assert rows_of(page, "session") == ["s-a2"]
    fill(page, End_user="", Active_from="", Active_to=form_time(boundary))
    assert set(rows_of(page, "session")) == {"s-a1", "s-b1"}

    # Live, under the form's filter: alice's new session arrives, bob's does not.
    fill(page, End_user="alice", Active_to="")
    page.wait_for_function(OPEN_STREAM)
    log_batch(server, key, [{"session_id": "s-b9", "user_id": "bob"},
                            {"session_id": "s-a9", "user_id": "alice"}])  # fmt: skip
    page.locator("tr[data-session='s-a9']").wait_for(timeout=10_000)
    assert rows_of(page, "session") == ["s-a9", "s-a2", "s-a1"]

    # A window the wrong way round is a message on the page; nothing matching, its own state.
    fill(page, Active_from=form_time(boundary), Active_to=form_time(boundary - timedelta(1)))
    expect(page.get_by_role("alert")).to_have_text("Active from must not be later than Active to")
    fill(page, End_user="nobody", Active_from="", Active_to="")
    expect(page.locator("#no-match")).to_be_visible()
    assert page.locator("#first-run").count() == 0
    page.get_by_role("link", name="Clear the filters").click()
    page.wait_for_url(server.base_url + "/sessions")
    assert rows_of(page, "session") == expected("1 = 1")


def test_users_form(server: Server, signed_in: tuple[Page, str]) -> None:
    page, key = signed_in
    page.goto(server.base_url + "/users")
    expect(page.locator("#first-run")).to_be_visible()
    early = log_batch(server, key, [{"user_id": "alice"}, {"user_id": "bob"}])
    project_id = project_of(server, early[0])
    boundary = second_after(server, "last_seen", "end_users", project_id)
    log_batch(server, key, [{"user_id": "carol"}, {"user_id": "dan"}])

    def expected(where: str, *params: object) -> list[str]:
        rows = server.query(
            f"SELECT user_id FROM end_users WHERE project_id = ? AND {where} "  # noqa: S608
            "ORDER BY last_seen DESC, user_id DESC",
            project_id, *params,
        )  # fmt: skip
        return [str(row[0]) for row in rows]

    page.goto(server.base_url + "/users")
    assert rows_of(page, "user") == expected("1 = 1")
    fill(page, End_user="bob")
    assert rows_of(page, "user") == expected("user_id = ?", "bob") == ["bob"]
    fill(page, End_user="", Last_seen_from=form_time(boundary))
    recent = expected("last_seen >= ?", as_param(server, boundary))
    assert rows_of(page, "user") == recent and set(recent) == {"carol", "dan"}
    fill(page, Last_seen_from="", Last_seen_to=form_time(boundary))
    assert set(rows_of(page, "user")) == {"alice", "bob"}
    fill(page, End_user="carol")  # carol was seen after: nothing matches
    expect(page.locator("#no-match")).to_be_visible()
    press(page, "Clear")
    assert len(rows_of(page, "user")) == 4


def test_events_form_fields_alone_and_friendly_messages(
    server: Server, signed_in: tuple[Page, str]
) -> None:
    page, key = signed_in
    page.goto(server.base_url + "/events")
    expect(page.locator("#first-run")).to_be_visible()
    ids = log_batch(server, key, [
        {"input": "one", "metadata": {"model": "gpt-4o"}},
        {"input": "two", "metadata": {"model": "mistral"}},
        {"input": "three", "metadata": {"model": "gpt-4o"}},
    ])  # fmt: skip
    project_id = project_of(server, ids[0])
    feedback(server, key, ids[0], 0)
    feedback(server, key, ids[1], 1)

    page.goto(server.base_url + "/events")
    page.get_by_label("Feedback").select_option("negative")  # the case: alone
    press(page)
    assert shown(page) == stored(server, project_id, "feedback_score = ?", 0) == [ids[0]]
    page.get_by_label("Feedback").select_option("")
    fill(page, Model="gpt-4o")
    assert shown(page) == stored(server, project_id, "model = ?", "gpt-4o") == [ids[2], ids[0]]
    fill(page, Model="", Search="TWO")
    assert shown(page) == [ids[1]]

    later = form_time(datetime.now(UTC) + timedelta(days=1))
    fill(page, Search="", From=later, To=form_time(datetime.now(UTC)))
    expect(page.get_by_role("alert")).to_have_text("From must not be later than To")
    assert page.locator("#rows").count() == 0
    fill(page, From=later, To="")  # nothing matches: not the first-run guide, no key button
    expect(page.locator("#no-match")).to_be_visible()
    assert page.locator("#first-run").count() == 0
    assert page.get_by_role("button", name="Create an API key").count() == 0
    press(page, "Clear")
    assert sorted(shown(page)) == sorted(ids)
