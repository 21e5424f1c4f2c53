"""The open events page shows OpenTelemetry exports live (Debian's chromium via Playwright):
a real instrumentation's three calls appear as three rows without a reload, with the model,
tokens and session.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests import test_dashboard_browser as browser_tests
from tests.browser_session import signed_in_tab
from tests.harness import Server, Tenant
from tests.otlp.exporting import export_calls
from tests.otlp.fake_openai import COMPLETION_TOKENS, MODEL, PROMPT_TOKENS, fake_openai
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)

pytestmark = browser_tests.pytestmark


@pytest.fixture
def signed_in(browser: Browser, server: Server) -> Iterator[tuple[Page, str]]:  # noqa: F811
    """A tab signed in to a fresh account (failing on page errors), and a key of its project."""
    if server.backend != "sqlite":
        pytest.skip("the browser flows run once, on the SQLite server")
    with signed_in_tab(browser, server) as signed:
        yield signed


@pytest.mark.parametrize("instrumentation", ["openinference", "openllmetry"])
def test_exported_calls_appear_on_the_open_events_page(
    server: Server, signed_in: tuple[Page, str], instrumentation: str
) -> None:
    page, key = signed_in
    browser_tests.goto_live(page, server.base_url + "/events", "/live/events")
    session = f"s-{secrets.token_hex(4)}"
    tenant = Tenant(project_id=0, key=key)  # only the key is used
    with fake_openai() as openai_base:
        export_calls(instrumentation, openai_base, server, tenant, session, "ann", calls=3)
    for n in (1, 2, 3):
        row = page.locator("tr.event-row", has_text=f"Where is my order {n}?")
        row.wait_for(timeout=10_000)  # pushed over SSE: no reload
        text = row.inner_text()
        assert MODEL in text and f"{PROMPT_TOKENS} / {COMPLETION_TOKENS}" in text
        assert session in text and "ann" in text
    assert page.locator("tr.event-row").count() == 3
