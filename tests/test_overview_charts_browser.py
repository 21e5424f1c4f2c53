"""The overview's charts in Debian's chromium, on both databases: each axis in its unit with
ticks that never repeat (counts whole, latency in ms then s, tokens in k/M, cost in dollars),
"No data" rather than made-up ticks, and a colour per line that reads on the chart's
background in the light and the dark scheme.

The charts draw on a canvas: web/static/overview.js writes what it drew (tick labels, line
colours) into data- attributes, which these tests read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import test_dashboard_browser as browser_tests
from tests.browser_session import signed_in_tab
from tests.harness import Server
from tests.test_dashboard_browser import browser  # noqa: F401  (fixture)
from tests.test_dashboard_overview import feedback, log_batch

pytestmark = browser_tests.pytestmark
CHARTS = ["events", "latency", "tokens", "feedback", "cost"]
TICK = {  # what every label of a chart's y axis looks like
    "events": r"\d[\d,]*",
    "latency": r"0|[1-9]\d* ms|\d+(\.\d+)? s",
    "tokens": r"\d+|\d+(\.\d+)?[kMB]",
    "feedback": r"\d[\d,]*",
    "cost": r"\$\d+(\.\d+)?",
}


@pytest.fixture
def tab(browser: Browser, server: Server) -> Iterator[tuple[Page, str]]:  # noqa: F811
    """A signed-in tab (failing on page errors and CSP violations) and its project's key."""
    with signed_in_tab(browser, server, console_errors=True) as signed:
        yield signed


def ticks(page: Page, chart: str, axis: str = "y") -> list[str]:
    """An axis' labels as last drawn."""
    text = page.locator(f"#chart-{chart}").get_attribute(f"data-{axis}ticks") or ""
    return text.split("|") if text else []


def drawn(page: Page) -> None:
    """Wait until the page has drawn its data (the CSP rules out wait_for_function's eval)."""
    expect(page.locator("#overview")).to_have_attribute("data-refreshed", re.compile(r"^\d+$"))


def luminance(colour: str) -> float:
    """WCAG relative luminance of "#rrggbb" or "rgb(r, g, b)"."""
    if colour.startswith("#"):
        channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    else:
        channels = [int(x) for x in re.findall(r"\d+", colour)[:3]]
    linear = [
        (c / 255 / 12.92) if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in channels
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_axes_have_units_and_ticks_that_never_repeat(server: Server, tab: tuple[Page, str]) -> None:
    page, key = tab
    ids = log_batch(server, key, [
        {"metadata": {"model": "gpt-4o", "tokens_in": 120_000 + 1000 * n, "tokens_out": 900,
                      "latency_ms": 200 + 100 * n}}
        for n in range(8)
    ])  # fmt: skip
    feedback(server, key, ids[0], 1)
    feedback(server, key, ids[1], 0)
    page.goto(server.base_url + "/?range=1h")
    drawn(page)
    for chart in CHARTS:
        labels = ticks(page, chart)
        assert len(labels) >= 2, (chart, labels)
        assert len(set(labels)) == len(labels), f"{chart} repeats a tick: {labels}"
        assert all(re.fullmatch(TICK[chart], label) for label in labels), (chart, labels)
        assert page.locator(f"#chart-{chart}").get_attribute("data-empty") == "0"
    times = ticks(page, "events", "x")
    assert len(times) >= 3 and len(set(times)) == len(times), times
    assert all(re.fullmatch(r"\d\d:\d\d", label) for label in times), times
    assert any(label.endswith(" ms") for label in ticks(page, "latency")), "sub-second: ms"
    assert any(label.endswith("k") for label in ticks(page, "tokens")), "thousands: k"

    log_batch(server, key, [{"metadata": {"latency_ms": 4500}}])  # now past a second
    expect(page.locator("#chart-latency")).to_have_attribute("data-yticks", re.compile(r"\d s"))
    labels = ticks(page, "latency")
    assert len(set(labels)) == len(labels) and all(re.fullmatch(TICK["latency"], x) for x in labels)


def test_an_empty_range_says_no_data(server: Server, tab: tuple[Page, str]) -> None:
    page, _ = tab
    page.goto(server.base_url + "/?range=1h")
    drawn(page)
    for chart in CHARTS:
        plot = page.locator(f"#chart-{chart}")
        expect(plot).to_have_text("No data in this range")
        assert plot.get_attribute("data-empty") == "1" and ticks(page, chart) == []
        assert plot.locator("canvas").count() == 0, "no axes with made-up ticks"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_each_line_has_its_own_colour_on_either_background(
    browser: Browser,  # noqa: F811
    server: Server,
    scheme: str,
) -> None:
    with signed_in_tab(browser, server, console_errors=True) as (tab, key):
        models = [f"model-{n}" for n in range(7)]  # five own lines, then "other models"
        log_batch(server, key, [
            {"metadata": {"model": model, "tokens_in": 100 * (n + 1), "tokens_out": 10 * (n + 1),
                          "latency_ms": 100 * (n + 1)}}
            for n, model in enumerate(models)
        ])  # fmt: skip
        context = browser.new_context(color_scheme=scheme, viewport={"width": 1440, "height": 900})
        context.add_cookies(tab.context.cookies())
        page = context.new_page()
        try:
            page.goto(server.base_url + "/?range=1h")
            drawn(page)
            surface = page.evaluate(
                "getComputedStyle(document.documentElement).getPropertyValue('--surface').trim()"
            )
            for chart in CHARTS:
                colours = page.locator(f"#chart-{chart}").get_attribute("data-colors") or ""
                lines = colours.split("|")
                assert len(set(lines)) == len(lines), f"{chart}: two lines share a colour"
                for colour in lines:
                    assert contrast(colour, surface) >= 3, (scheme, chart, colour, surface)
            tokens = page.locator("#chart-tokens").get_attribute("data-colors") or ""
            assert len(tokens.split("|")) == 12, "5 models and the others, in and out"
            legend = page.locator("#chart-tokens .u-legend").inner_text()
            assert "model-6 in" in legend and "other models out" in legend
            text = page.evaluate(
                "getComputedStyle(document.querySelector('#chart-tokens .u-legend')).color"
            )
            assert contrast(text, surface) >= 4.5, "the legend reads"
        finally:
            context.close()


SPANS = {  # a range from this long ago to now -> what its time labels look like
    "3-minutes": (timedelta(minutes=3), r"\d\d:\d\d"),
    "9-days": (timedelta(days=9), r"\d\d-\d\d( \d\d:\d\d)?"),
    "300-days": (timedelta(days=300), r"\d{4}-\d\d-\d\d"),
}


def test_time_labels_never_repeat(server: Server, tab: tuple[Page, str]) -> None:
    page, key = tab
    log_batch(server, key, [{}])  # now: in every range below, so each chart has axes
    for name, (length, label) in SPANS.items():
        since = (datetime.now(UTC) - length).strftime("%Y-%m-%dT%H:%M")
        page.goto(f"{server.base_url}/?since={since}")
        drawn(page)
        assert page.locator("#chart-events").get_attribute("data-empty") == "0", name
        times = ticks(page, "events", "x")
        assert len(times) >= 2 and len(set(times)) == len(times), (name, times)
        assert all(re.fullmatch(label, t) for t in times), (name, times)
