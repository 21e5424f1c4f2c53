"""GraphiQL on the dashboard (web/graphiql.py) in a real browser with no internet: every
request to a host other than this server is aborted (and recorded), and the page still loads
from the vendored files, runs what a person types through GraphiQL's own editor and run
button with the login (no key), under the page's CSP (any console error or CSP violation fails
the test, `signed_in_tab`). On both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests import test_dashboard_browser as browser_tests
from tests.browser_session import signed_in_tab
from tests.harness import Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)

pytestmark = browser_tests.pytestmark
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
RESULT = "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"
PARSED = """() => {
  const editor = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror;
  return Boolean(editor.documentAST) && editor.documentAST.loc.source.body === editor.getValue();
}"""


@contextmanager
def offline_tab(browser: Browser, server: Server) -> Iterator[tuple[Page, str, list[str]]]:  # noqa: F811
    """A signed-in tab that can reach this server only; the URLs it tried elsewhere."""
    with signed_in_tab(browser, server, width=1440, console_errors=True) as (tab, key):
        tried: list[str] = []

        def loopback_only(route: Route) -> None:
            if urlsplit(route.request.url).hostname in LOOPBACK:
                route.continue_()
            else:
                tried.append(route.request.url)
                route.abort()

        tab.context.route("**/*", loopback_only)
        yield tab, key, tried


def open_graphiql(tab: Page, server: Server) -> None:
    """From the overview, follow the top bar's GraphQL link; wait for GraphiQL's editor."""
    tab.goto(server.base_url + "/")
    tab.get_by_role("link", name="GraphQL", exact=True).click()
    expect(tab).to_have_url(server.base_url + "/graphiql")
    expect(tab.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()


def run(tab: Page, document: str) -> None:
    """Replace the editor's text with `document` (typed: inserted as keyboard input, without
    GraphiQL's bracket auto-closing) and press the run button."""
    tab.locator(".graphiql-query-editor .CodeMirror").click()
    tab.keyboard.press("ControlOrMeta+a")
    tab.keyboard.press("Delete")
    tab.keyboard.insert_text(document)
    # GraphiQL parses the editor a moment after each change (debounced) and the run button
    # takes the last parse to choose HTTP or WebSocket; a person is never that quick.
    tab.wait_for_function(PARSED)
    tab.get_by_role("button", name="Execute query (Ctrl-Enter)").click()


def answer(tab: Page, contains: str) -> dict[str, Any]:
    """The response pane's JSON, once it shows `contains`."""
    expect(tab.locator(".graphiql-response")).to_contain_text(contains)
    result: dict[str, Any] = json.loads(tab.evaluate(RESULT))
    return result


def log(server: Server, key: str, text: str) -> None:
    """Log one event over REST with `key`."""
    headers = {"Authorization": f"Bearer {key}"}
    body = {"input": text, "output": "a"}
    httpx.post(server.base_url + "/api/v1/events", json=body, headers=headers).raise_for_status()


def project_of(server: Server, key: str) -> tuple[int, str]:
    """The id and name of the project `key` belongs to, from the database."""
    row = server.query(
        "SELECT p.id, p.name FROM projects p JOIN api_keys k ON k.project_id = p.id "
        "WHERE k.prefix = ?",
        key[:11],
    )[0]
    return int(row[0]), str(row[1])


def test_graphiql_runs_a_query_offline_with_the_login(
    browser: Browser,  # noqa: F811
    server: Server,
) -> None:
    with offline_tab(browser, server) as (tab, key, tried):
        log(server, key, "mine")
        log(server, server.new_tenant().key, "another tenant's")
        open_graphiql(tab, server)
        run(tab, "{ project { name } }")
        project_id, name = project_of(server, key)
        assert answer(tab, name) == {"data": {"project": {"name": name}}}
        run(tab, "{ events(first: 10) { edges { node { input } } } }")
        inputs = server.query("SELECT input FROM events WHERE project_id = ?", project_id)
        shown = answer(tab, '"mine"')["data"]["events"]["edges"]
        assert [edge["node"]["input"] for edge in shown] == [row[0] for row in inputs]
        assert tried == [], "the page tried to reach the internet"


def test_a_subscription_runs_over_the_websocket_with_the_login(
    browser: Browser,  # noqa: F811
    server: Server,
) -> None:
    with offline_tab(browser, server) as (tab, key, tried):
        open_graphiql(tab, server)
        run(tab, "subscription { eventLogged { input } }")
        # Subscribed once the run button turns into the stop button.
        expect(tab.get_by_role("button", name="Stop query")).to_be_visible()
        log_until_shown(tab, server, key)
        assert tried == []


def log_until_shown(tab: Page, server: Server, key: str) -> None:
    """Log events until the subscription shows one (its first `subscribe` may still be in
    flight when the first event commits), at most ten."""
    for attempt in range(10):
        log(server, key, f"pushed-{attempt}")
        try:
            expect(tab.locator(".graphiql-response")).to_contain_text("pushed-", timeout=1000)
            return
        except AssertionError:
            continue
    pytest.fail("the subscription showed no event")


def test_dialogs_open_under_the_pages_csp(browser: Browser, server: Server) -> None:  # noqa: F811
    """Opening /graphql leads to the page; GraphiQL's dialogs add a <style> element, allowed
    by the page's nonce (a violation would be a console error)."""
    if server.backend != "sqlite":
        pytest.skip("no database involved: runs once, on the SQLite server")
    with offline_tab(browser, server) as (tab, _, tried):
        tab.goto(server.base_url + "/graphql")
        expect(tab).to_have_url(server.base_url + "/graphiql")
        expect(tab.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
        tab.get_by_role("button", name="Open settings dialog").click()
        expect(tab.get_by_role("dialog")).to_contain_text("Theme")
        tab.keyboard.press("Escape")
        expect(tab.get_by_role("dialog")).to_have_count(0)
        assert tried == []
