"""The overview's comparison with the previous period, over real HTTP on both databases: events
placed in both periods (OpenTelemetry spans carry their own time), and each card's sentence
checked against a hand computation. Also the range given by any subset of the form's fields."""

from __future__ import annotations

import html
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.harness import Server
from tests.otlp.otlp_build import S, chat, export
from tests.test_dashboard_accounts import browser, create_key, signed_in
from tests.test_dashboard_overview import Account, feedback, figures, log_batch
from web.overview_view import Period, change

HOUR_MS = 3600 * 1000
STATUS_ERROR = 2  # OTLP Status.STATUS_CODE_ERROR
PREVIOUS = "the previous 24 hours"


@pytest.fixture
def account(server: Server) -> Iterator[Account]:
    """A signed-in browser-like client and a key of its project."""
    with browser(server) as client:
        signed_in(server, client)
        yield client, create_key(client)


def spans_at(server: Server, key: str, hours_ago: float, spans: list[S]) -> None:
    """Export `spans` as if they started `hours_ago` hours ago (OTLP keeps each span's time)."""
    base = time.time_ns() // 1_000_000 - int(hours_ago * HOUR_MS)
    response = httpx.post(
        server.base_url + "/v1/traces", content=export(spans, base_ms=base),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"},
    )  # fmt: skip
    assert response.status_code == 200, response.text


def call(user: str, session: str, latency_ms: int, *, error: bool = False) -> S:
    """One chat span: 10 tokens in, 5 out (a priced model), its own trace."""
    trace = secrets.randbits(63) + 1
    span = chat(1, trace, **{"user.id": user, "session.id": session})
    span.duration_ms = latency_ms
    if error:
        span.status, span.message = STATUS_ERROR, "boom"
    return span


def changes(page: str) -> dict[str, str]:
    """Each card's change sentence ("" when it has none)."""
    found = {}
    for block in page.split('<div class="card"')[1:]:
        name = re.search(r'data-figure="([a-z_0-9]+)"', block)
        said = re.search(r'<dd class="change">(.*?)</dd>', block.split("</div>", 1)[0], re.S)
        assert name
        found[name.group(1)] = html.unescape(said.group(1).strip()) if said else ""
    return found


def previous_window(now: datetime) -> str:
    """The query of the 24 hours before `range=24h`'s window (aligned to the hour)."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1) - timedelta(days=1)
    since, until = end - timedelta(days=1), end
    return f"since={since:%Y-%m-%dT%H:%M}&until={until:%Y-%m-%dT%H:%M}&bucket=1h"


def test_each_card_compares_with_the_previous_24_hours(server: Server, account: Account) -> None:
    client, key = account
    # Before: 4 calls, 2 users, 2 sessions, one error, 200 ms each.
    before = [("u1", "s1"), ("u2", "s2"), ("u1", "s1"), ("u2", "s2")]
    spans_at(server, key, 30, [call(u, s, 200, error=n == 3) for n, (u, s) in enumerate(before)])
    # Now: 5 calls, 3 users, 3 new sessions, one error, 300 ms each.
    now = [("u1", "s3"), ("u2", "s4"), ("u3", "s5"), ("u3", "s5"), ("u3", "s5")]
    spans_at(server, key, 2, [call(u, s, 300, error=n == 4) for n, (u, s) in enumerate(now)])
    page = client.get("/?range=24h").text
    shown = figures(page)
    old = figures(client.get("/?" + previous_window(datetime.now(UTC))).text)
    assert shown["events"] == "5" and old["events"] == "4", "the events sit in their periods"
    said = changes(page)
    assert said["events"] == f"+25% vs {PREVIOUS}"  # 5 against 4
    assert said["sessions"] == f"+50% vs {PREVIOUS}"  # 3 started against 2
    assert said["end_users"] == f"+50% vs {PREVIOUS}"  # 3 against 2
    assert said["tokens_in"] == f"+25% vs {PREVIOUS}"  # 50 against 40
    assert said["tokens_out"] == f"+25% vs {PREVIOUS}"  # 25 against 20
    assert said["cost"] == f"+25% vs {PREVIOUS}"  # the same model's price, 5/4 of the tokens
    assert said["error_rate"] == f"\N{MINUS SIGN}5 pts vs {PREVIOUS}"  # 20% against 25%
    assert said["positive_rate"] == "", "no feedback now: nothing to compare"
    p50, old_p50 = float(shown["latency_p50"]), float(old["latency_p50"])
    assert p50 == pytest.approx(300, rel=0.02) and old_p50 == pytest.approx(200, rel=0.02)
    assert said["latency_p50"] == f"{(p50 - old_p50) / old_p50:+.0%} vs {PREVIOUS}"
    assert "new: none" not in page


def test_a_period_with_nothing_says_so_and_nothing_misleading(
    server: Server, account: Account
) -> None:
    client, key = account
    empty = changes(client.get("/?range=24h").text)
    assert set(empty.values()) == {""}, "two empty periods: no comparison at all"
    spans_at(server, key, 2, [call("u1", "s1", 120), call("u1", "s1", 80)])
    only_now = changes(client.get("/?range=24h").text)
    assert only_now["events"] == f"no data in {PREVIOUS}"
    assert only_now["latency_p95"] == f"no data in {PREVIOUS}"
    assert only_now["positive_rate"] == f"no data in {PREVIOUS}"
    # The same events seen from a day later: this period is empty, the previous one is not.
    later = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    since = later - timedelta(days=1)
    query = f"since={since:%Y-%m-%dT%H:%M}&until={later:%Y-%m-%dT%H:%M}"
    after = changes(client.get("/?" + query).text)
    assert after["events"] == f"down from 2 in {PREVIOUS}"
    assert after["tokens_in"] == f"down from 20 in {PREVIOUS}"
    assert after["latency_p50"] == "" and after["error_rate"] == "", "no value: no comparison"


def test_a_period_without_feedback_before_is_named(server: Server, account: Account) -> None:
    client, key = account
    spans_at(server, key, 30, [call("u1", "s1", 100)])
    (event_id,) = log_batch(server, key, [{}])  # now
    feedback(server, key, event_id, 1)
    said = changes(client.get("/?range=24h").text)
    assert said["positive_rate"] == f"no feedback in {PREVIOUS}"
    assert said["events"] == f"no change vs {PREVIOUS}"
    assert said["latency_p50"] == "", "no latency now"
    hour = changes(client.get("/?range=1h").text)
    assert hour["events"] == "no data in the previous hour"  # not "the previous 1 hour"


WINDOWS = {  # the form's fields (empty ones sent as the form sends them) -> (length, bucket)
    "nothing": ("range=24h&since=&until=&bucket=", 86400, 3600),
    "bucket-only": ("range=24h&since=&until=&bucket=5m", 86400, 300),
    "bucket-of-7d": ("range=7d&since=&until=&bucket=6h", 7 * 86400, 21600),
    "to-only": ("range=24h&since=&until=2026-01-02T10:00&bucket=", 86400, 900),
    "to-and-bucket": ("range=1h&since=&until=2026-01-02T10:00&bucket=5m", 3600, 300),
    "from-and-to": ("since=2026-01-01T00:00&until=2026-01-03T00:00&bucket=", 2 * 86400, 900),
    "all-three": ("since=2026-01-01T00:00&until=2026-01-03T00:00&bucket=1h", 2 * 86400, 3600),
}


@pytest.mark.parametrize("case", list(WINDOWS), ids=list(WINDOWS))
def test_any_subset_of_the_form_is_a_range(account: Account, case: str) -> None:
    client, _ = account
    query, length, bucket = WINDOWS[case]
    data = client.get("/overview/data?" + query).json()
    assert data["bucket"] == bucket
    assert length <= data["until"] - data["since"] <= length + bucket, "aligned to the bucket"
    assert client.get("/?" + query).status_code == 200


def test_from_alone_runs_to_now(account: Account) -> None:
    client, _ = account
    since = datetime.now(UTC) - timedelta(hours=3)
    data = client.get(f"/overview/data?since={since:%Y-%m-%dT%H:%M}").json()
    assert abs(data["until"] - time.time()) <= data["bucket"] and data["bucket"] == 60


def test_the_sentences_of_a_change() -> None:
    """The wording alone: signs with a true minus, and a rise past +999% said as "up from"."""
    period = Period("the previous 24 hours", had_events=True, has_events=True)
    count = "{:,}".format
    assert change(50, 40, period, count) == "+25% vs the previous 24 hours"
    assert change(30, 40, period, count) == "\N{MINUS SIGN}25% vs the previous 24 hours"
    assert change(40.1, 40, period, count) == "no change vs the previous 24 hours"
    assert change(5400, 40, period, count) == "up from 40 in the previous 24 hours"
    assert change(0, 1234, period, count) == "down from 1,234 in the previous 24 hours"
    assert change(3, 0, period, count) == "up from 0 in the previous 24 hours"
