"""The overview in a real browser (Debian's chromium via Playwright): the charts draw the logged
events, the legend shows the value under the pointer, and the figures follow new events live.

Saves a screenshot to test-artifacts/overview.png (gitignored) and prints its path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import test_dashboard_browser as browser_tests
from tests.browser_session import signed_in_tab
from tests.harness import REPO, Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)
from tests.test_dashboard_overview import feedback, log_batch

# Debian's chromium, the same way as the other browser tests (required in CI).
pytestmark = browser_tests.pytestmark
ARTIFACTS = REPO / "test-artifacts"
CHARTS = ["events", "latency", "tokens", "feedback", "cost"]


@pytest.fixture
def signed_in(browser: Browser, server: Server) -> Iterator[tuple[Page, str]]:  # noqa: F811
    """A tab signed in to a fresh account (failing on page errors or CSP violations), and a key."""
    with signed_in_tab(browser, server, console_errors=True) as signed:
        yield signed


def log(server: Server, key: str, count: int, model: str = "gpt-4o") -> list[str]:
    """Log `count` events with tokens, latency and an end user; returns their ids."""
    return log_batch(server, key, [
        {"user_id": f"user-{n % 3}", "metadata": {
            "model": model, "tokens_in": 120, "tokens_out": 40, "latency_ms": 200 + 100 * n}}
        for n in range(count)
    ])  # fmt: skip


def figure(page: Page, name: str) -> str:
    """A figure's raw value."""
    return page.locator(f'[data-figure="{name}"]').get_attribute("data-value") or ""


def test_charts_draw_and_follow_new_events(server: Server, signed_in: tuple[Page, str]) -> None:
    page, key = signed_in
    ids = log(server, key, 5)
    log(server, key, 2, model="claude-3-5-sonnet-latest")
    feedback(server, key, ids[0], 1)
    feedback(server, key, ids[1], 0)
    page.goto(server.base_url + "/?range=1h")
    for name in CHARTS:
        page.wait_for_selector(f"#chart-{name}[data-nonzero] canvas", timeout=10_000)
        assert page.locator(f"#chart-{name}").get_attribute("data-points") == "60"
    for name in CHARTS:
        assert int(page.locator(f"#chart-{name}").get_attribute("data-nonzero") or 0) >= 1, name
    legend = page.locator("#chart-tokens .u-legend").inner_text()
    assert "gpt-4o in" in legend and "claude-3-5-sonnet-latest out" in legend

    # The value under the pointer: hover the last bucket (now), read the legend (a number,
    # not the dash shown while the pointer is away).
    box = page.locator("#chart-events .u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    expect(page.locator("#chart-events .u-series").nth(1).locator(".u-value")).to_have_text(
        re.compile(r"^\d+$")
    )

    page.evaluate("window.notReloaded = true")
    assert figure(page, "events") == "7"
    log(server, key, 4)
    expect(page.locator("[data-figure=events]")).to_have_attribute("data-value", "11")
    assert page.evaluate("window.notReloaded") is True, "updated without a reload"
    assert page.locator("#chart-events").get_attribute("data-points") == "60"
    assert figure(page, "tokens_in") == str(11 * 120)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "overview.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"overview screenshot: {shot}")


def test_first_event_instructions_leave_when_an_event_arrives(
    server: Server, signed_in: tuple[Page, str]
) -> None:
    page, key = signed_in
    page.goto(server.base_url + "/")
    assert page.locator("#first-run").is_visible()
    page.wait_for_selector("#overview[data-refreshed]")  # subscribed, and drawn
    assert page.locator("#chart-events").get_attribute("data-empty") == "1"
    expect(page.locator("#chart-latency")).to_have_text("No data in this range")
    log(server, key, 1)
    page.locator("#first-run").wait_for(state="detached", timeout=10_000)
    expect(page.locator("[data-figure=events]")).to_have_attribute("data-value", "1")
