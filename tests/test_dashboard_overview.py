"""The overview (home page when signed in) over real HTTP: figures, charts' JSON, time ranges,
tenant isolation, escaping and the live "changed" stream."""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import genai_prices
import httpx
import pytest

from tests.harness import Server
from tests.test_dashboard_accounts import browser, create_key, sign_up, signed_in

Account = tuple[httpx.Client, str]
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def account(server: Server) -> Iterator[Account]:
    """A signed-in browser-like client and a key of its project."""
    with browser(server) as client:
        signed_in(server, client)
        yield client, create_key(client)


def log_batch(server: Server, key: str, events: list[dict[str, Any]]) -> list[str]:
    """Log events in one request; returns their ids."""
    body = {"events": [{"input": "q", "output": "a", **event} for event in events]}
    response = httpx.post(server.base_url + "/api/v1/events/batch", json=body,
                          headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert response.status_code == 201, response.text
    return [result["event_id"] for result in response.json()["results"]]


def feedback(server: Server, key: str, event_id: str, score: int) -> None:
    """Thumbs up (1) or down (0) on an event."""
    url = f"{server.base_url}/api/v1/events/{event_id}/feedback"
    response = httpx.post(url, json={"score": score}, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text


def figures(page: str) -> dict[str, str]:
    """The page's figures by name, raw values from their `data-value`."""
    return dict(re.findall(r'data-figure="([a-z_0-9]+)" data-value="([^"]*)"', page))


def price(tokens_in: int, tokens_out: int, model: str = "gpt-4o") -> float:
    """What genai-prices says an event costs."""
    usage = genai_prices.Usage(input_tokens=tokens_in, output_tokens=tokens_out)
    return float(genai_prices.calc_price(usage, model).total_price)


def test_figures_equal_what_was_logged(server: Server, account: Account) -> None:
    client, key = account
    tokens = [(100, 50), (2000, 800), (300, 0)]
    ids = log_batch(server, key, [
        {"user_id": "u-1", "session_id": "s-1",
         "metadata": {"model": "gpt-4o", "tokens_in": i, "tokens_out": o, "latency_ms": 100 * n}}
        for n, (i, o) in enumerate(tokens, start=1)
    ] + [
        {"user_id": "u-2", "session_id": "s-2",
         "metadata": {"model": "my-own-model", "tokens_in": 10, "tokens_out": 5}},
        {"user_id": "u-2", "session_id": "s-3", "error": "timeout"},
    ])  # fmt: skip
    feedback(server, key, ids[0], 1)
    feedback(server, key, ids[1], 1)
    feedback(server, key, ids[3], 0)
    page = client.get("/?range=24h")
    assert page.status_code == 200
    shown = figures(page.text)
    expected_cost = sum(price(i, o) for i, o in tokens)
    assert shown["events"] == "5" and shown["sessions"] == "3" and shown["end_users"] == "2"
    assert shown["tokens_in"] == str(2410) and shown["tokens_out"] == str(855)
    assert float(shown["cost"]) == pytest.approx(expected_cost, rel=1e-6)
    assert float(shown["positive_rate"]) == pytest.approx(2 / 3)
    assert float(shown["latency_p50"]) == pytest.approx(200, rel=0.02)
    assert "of 3 feedback" in page.text
    assert float(shown["error_rate"]) == pytest.approx(1 / 5) and "1 error of 5 events" in page.text
    assert 'href="/events?status=error"' in page.text  # the model table's errors, to the events
    assert "+ 1 unpriced event (no known price)" in page.text, "unpriced is not $0"
    assert "my-own-model" in page.text and "(no model)" in page.text
    assert 'href="/events?user=u-1"' in page.text and 'href="/events?model=gpt-4o"' in page.text

    data = client.get("/overview/data?range=24h").json()
    assert sum(data["events"]) == 5 and len(data["x"]) == 24
    assert sum(data["cost"]) == pytest.approx(expected_cost, rel=1e-6)
    assert sum(data["feedback"]["positive"]) == 2 and sum(data["feedback"]["negative"]) == 1
    by_model = {line["label"]: (sum(line["in"]), sum(line["out"])) for line in data["tokens"]}
    assert by_model["gpt-4o"] == (2400, 850) and by_model["my-own-model"] == (10, 5)
    assert figures(data["figures"]) == shown


def test_models_past_the_busiest_are_summed(server: Server, account: Account) -> None:
    """A project with many models: the breakdown and the token chart stay bounded, the models
    past the busiest summed in one row and one line."""
    client, key = account
    log_batch(server, key, [
        {"metadata": {"model": f"model-{n:02d}", "tokens_in": 10, "tokens_out": 1}}
        for n in range(22) for _ in range(n + 1)
    ])  # fmt: skip
    page = client.get("/?range=24h").text
    assert "No end user in this range" in page, "no event had a user_id"
    rows = re.findall(r'<tr class="model-row">\s*<td>(.*?)</td>', page, re.S)
    assert len(rows) == 21 and rows[-1] == "<em>2 other models</em>", rows[-3:]
    assert "model-21" in rows[0] and "model-00" not in page and "model-01" not in page
    data = client.get("/overview/data?range=24h").json()
    lines = {line["label"]: (sum(line["in"]), sum(line["out"])) for line in data["tokens"]}
    shown = sum(range(18, 23))  # the five busiest: model-21 … model-17, n + 1 events each
    everything = sum(range(1, 23))
    assert lines["other models"] == (10 * (everything - shown), everything - shown)
    assert len(lines) == 6 and "model-21" in lines


def test_end_users_without_a_known_cost_are_not_called_missing(
    server: Server, account: Account
) -> None:
    """Users whose events have no price: the by-cost table says so, not "send user_id"."""
    client, key = account
    log_batch(server, key, [
        {"user_id": "u-1", "metadata": {"model": "my-own-model", "tokens_in": 10}},
        {"user_id": "u-2"},
    ])  # fmt: skip
    page = client.get("/?range=24h").text
    by_events, by_cost = page.split("Top end users by cost")
    assert 'href="/events?user=u-1"' in by_events and 'href="/events?user=u-2"' in by_events
    assert "No end user with a known cost in this range" in by_cost
    assert "send <code>user_id</code>" not in page


def test_changes_are_against_the_previous_period(server: Server, account: Account) -> None:
    client, key = account
    log_batch(server, key, [{"metadata": {"model": "gpt-4o", "tokens_in": 10}}] * 3)
    page = client.get("/?range=1h").text
    assert figures(page)["events"] == "3"
    assert "no data in the previous hour" in page  # tests/test_overview_periods.py: the rest


def test_empty_project_shows_how_to_log_the_first_event(server: Server, account: Account) -> None:
    client, _ = account
    page = client.get("/").text
    assert "<h1>Overview</h1>" in page and 'id="first-run"' in page
    assert f"curl -X POST {server.base_url}/api/v1/events" in page
    assert figures(page)["events"] == "0"
    assert '<a href="/" aria-current="page">Overview</a>' in page
    with httpx.Client(base_url=server.base_url) as anonymous:
        signed_out = anonymous.get("/")
        assert "phospho is running" in signed_out.text and "Overview" not in signed_out.text
        assert anonymous.get("/overview/data").status_code == 303


def test_the_range_lives_in_the_url(server: Server, account: Account) -> None:
    client, key = account
    log_batch(server, key, [{}, {}])
    now = datetime.now(UTC)
    start = now.replace(minute=now.minute - now.minute % 5, second=0) - timedelta(hours=1)
    since, until = (at.strftime("%Y-%m-%dT%H:%M") for at in (start, start + timedelta(hours=2)))
    custom = client.get(f"/?since={since}&until={until}&bucket=5m")
    assert custom.status_code == 200 and figures(custom.text)["events"] == "2"
    assert f'value="{since}"' in custom.text and "one point per 5 minutes" in custom.text
    data = client.get(f"/overview/data?since={since}&until={until}&bucket=5m").json()
    assert data["bucket"] == 300 and len(data["x"]) == 24 and sum(data["events"]) == 2
    fitted = client.get(f"/overview/data?range=custom&since={since}&until={until}").json()
    assert fitted["bucket"] == 60, "two hours fit in 1-minute buckets (120 points)"
    past = client.get("/?since=2025-01-01T00:00&until=2025-01-02T00:00").text
    assert figures(past)["events"] == "0" and 'data-live="1"' not in past
    week = client.get("/?range=7d").text
    assert figures(week)["events"] == "2" and 'aria-current="page">7 days' in week


BAD_RANGES = {  # in the form's own words (From, To, Bucket), never "since" or "until"
    "range=2w": "Range: choose one of Last hour, 24 hours, 7 days or 30 days.",
    "range=24h&bucket=2m": "Bucket: choose one of 1 minute,",
    "since=yesterday": "“From” must be a date and time such as 2026-03-03 10:30.",
    "until=" + "9" * 200: "“To” must be a date and time",
    "since=2026-01-02T00:00&until=2026-01-01T00:00": "“To” must be after “From”.",
    "since=2999-01-01T00:00": "“From” is in the future",
    "since=2020-01-01T00:00&until=2026-01-01T00:00": "may be at most 400 days apart",
    "since=2026-01-01T00:00&until=2026-01-10T00:00&bucket=1m": (
        "Bucket: 1 minute gives 12,960 points over 9 days (at most 1,000); choose 15 minutes"
    ),
    "range=30d&bucket=1m": "Bucket: 1 minute gives 43,200 points over 30 days",
    "range=1h&bucket=1d": "Bucket: 24 hours is longer than 1 hour; choose a smaller bucket.",
}


@pytest.mark.parametrize("query", list(BAD_RANGES), ids=range(len(BAD_RANGES)))
def test_bad_ranges_are_said_on_the_page_in_the_forms_words(account: Account, query: str) -> None:
    client, _ = account
    message = BAD_RANGES[query]
    page = client.get("/?" + query)
    assert page.headers["content-type"].startswith("text/html"), "never a JSON 422"
    assert page.status_code == 200, "the form with a message, not an error page"
    text = html.unescape(page.text)
    assert message in text and 'role="alert"' in page.text
    assert "since" not in text.split('id="range-error"')[1].split("</p>")[0]
    assert '<button type="submit">Show</button>' in page.text, "the form stays, to fix it"
    data = client.get("/overview/data?" + query)
    assert data.status_code == 422 and message in data.json()["detail"], query


def test_another_projects_data_never_shows(server: Server, account: Account) -> None:
    client, key = account
    with browser(server) as other:
        sign_up(other)
        other_key = create_key(other)
        log_batch(server, other_key, [{"user_id": "their-user", "metadata": {
            "model": "their-model", "tokens_in": 999, "tokens_out": 1}}])  # fmt: skip
        log_batch(server, key, [{"user_id": "our-user"}])
        ours, theirs = client.get("/").text, other.get("/").text
        data = client.get("/overview/data").text
    assert figures(ours)["events"] == "1" and figures(theirs)["events"] == "1"
    assert "their-model" not in ours + data and "their-user" not in ours + data
    assert "our-user" in ours and "our-user" not in theirs


def test_untrusted_model_and_user_names_stay_text(server: Server, account: Account) -> None:
    client, key = account
    log_batch(server, key, [{"user_id": XSS, "metadata": {"model": XSS, "tokens_in": 5}}])
    page = client.get("/").text
    data = client.get("/overview/data").json()
    for text in (page, data["tables"]):
        assert XSS not in text and "<script>alert" not in text
        assert str(html.escape(XSS, quote=False))[:30] in text.replace("&#34;", '"')
    assert data["tokens"][0]["label"] == XSS  # the chart legend sets it as text (textContent)
    assert "script-src 'self'" in client.get("/").headers["content-security-policy"]


def ticks_during(client: httpx.Client, action: Any, poke: Any) -> list[float]:
    """Times (from when `action` starts) of the "tick"s of /live/overview until a little after
    `action` returns. `poke` makes one more change then, so the reader sees a line and stops.
    """
    received: list[float] = []
    subscribed, done = threading.Event(), threading.Event()
    start = time.monotonic()

    def listen() -> None:
        with client.stream("GET", "/live/overview", timeout=30) as stream:
            for line in stream.iter_lines():
                if line == "event: ready":
                    subscribed.set()
                if done.is_set():
                    return
                if line == "event: tick":
                    received.append(time.monotonic() - start)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert subscribed.wait(10)
    start = time.monotonic()
    action()
    time.sleep(1.5)  # the throttled tick of the last change is due within a second
    done.set()
    poke()
    thread.join(10)
    assert not thread.is_alive()
    return received


def test_live_stream_ticks_at_most_once_a_second(server: Server, account: Account) -> None:
    client, key = account
    began: list[float] = []  # when the burst began: the ticks' time origin
    sent: list[float] = []

    def burst() -> None:
        began.append(time.monotonic())
        for _ in range(10):
            log_batch(server, key, [{}] * 20)
        time.sleep(1.5)
        ids = log_batch(server, key, [{}])
        time.sleep(1.2)
        sent.append(time.monotonic())
        feedback(server, key, ids[0], 1)  # feedback changes the figures too

    ticks = ticks_during(client, burst, lambda: log_batch(server, key, [{}]))
    assert 3 <= len(ticks) <= 6, ticks
    assert all(later - earlier >= 0.9 for earlier, later in pairwise(ticks)), ticks
    assert ticks[-1] >= sent[0] - began[0] - 0.1, "the feedback, sent last, ticked too"


def test_ticks_follow_commits_of_other_processes(server: Server, tmp_path: Path) -> None:
    if server.backend != "postgres":
        pytest.skip("several processes share a database only on PostgreSQL (NOTIFY bridge)")
    second = Server("postgres", tmp_path, server.database_url)
    second.start()
    elsewhere = replace(server, port=second.port)  # same database, the other process
    try:
        with browser(server) as client:
            sign_up(client)
            key = create_key(client)
            ticks = ticks_during(client, lambda: log_batch(elsewhere, key, [{}]),
                                 lambda: log_batch(elsewhere, key, [{}]))  # fmt: skip
            assert len(ticks) == 1, ticks
            assert figures(client.get("/").text)["events"] == "2"
    finally:
        second.stop()
