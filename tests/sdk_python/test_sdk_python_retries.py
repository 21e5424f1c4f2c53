"""Retries, proven with a real flaky proxy in front of the real server."""

from __future__ import annotations

import time

import phospho
import pytest

from tests.harness import Server, Tenant
from tests.sdk_python.sdk_support import FlakyProxy, count_events, count_feedback

FAST = {"retry_backoff": 0.01, "retry_backoff_max": 0.05}


def client(proxy: FlakyProxy, tenant: Tenant, **options: object) -> phospho.Client:
    return phospho.Client(api_key=tenant.key, base_url=proxy.url, **{**FAST, **options})  # type: ignore[arg-type]


def test_a_503_then_success_stores_exactly_one_event(
    srv: Server, tenant: Tenant, proxy: FlakyProxy
) -> None:
    proxy.add("503")
    result = client(proxy, tenant).log("q", "a")
    posts = proxy.posts()
    assert [p.fault for p in posts] == ["503", None]
    # The event_id was generated before the first try and sent unchanged on the retry.
    assert posts[0].json()["event_id"] == posts[1].json()["event_id"] == result["event_id"]
    assert count_events(srv, tenant) == 1


def test_an_answer_lost_after_the_write_still_stores_exactly_one_event(
    srv: Server, tenant: Tenant, proxy: FlakyProxy
) -> None:
    # The server stores the event but the answer never reaches the client; the retry carries
    # the same event_id, so the server answers with the original result instead of a copy.
    proxy.add("forward-then-drop")
    result = client(proxy, tenant).log("q", "a", session_id="lost-answer")
    assert [p.fault for p in proxy.posts()] == ["forward-then-drop", None]
    assert result["session_id"] == "lost-answer"
    assert count_events(srv, tenant) == 1


def test_dropped_connections_and_500s_are_retried_for_events(
    srv: Server, tenant: Tenant, proxy: FlakyProxy
) -> None:
    proxy.add("drop", "500", "503")
    client(proxy, tenant).log("q", "a")
    assert len(proxy.posts()) == 4
    assert count_events(srv, tenant) == 1


def test_retry_after_is_honoured(srv: Server, tenant: Tenant, proxy: FlakyProxy) -> None:
    proxy.add("429:1")
    started = time.monotonic()
    client(proxy, tenant).log("q", "a")
    elapsed = time.monotonic() - started
    assert 0.95 <= elapsed < 5  # waited the server's Retry-After, not the tiny backoff
    assert count_events(srv, tenant) == 1


def test_retry_after_beyond_the_bound_raises_rate_limit_error_at_once(
    tenant: Tenant, proxy: FlakyProxy
) -> None:
    proxy.add("429:120")
    started = time.monotonic()
    with pytest.raises(phospho.RateLimitError) as caught:
        client(proxy, tenant, retry_after_max=30).log("q", "a")
    assert time.monotonic() - started < 1
    assert caught.value.retry_after == 120
    assert caught.value.status_code == 429


def test_retries_are_bounded_then_the_error_is_raised(
    srv: Server, tenant: Tenant, proxy: FlakyProxy
) -> None:
    proxy.add("503", "503", "503", "503")
    with pytest.raises(phospho.APIError) as caught:
        client(proxy, tenant, max_retries=2).log("q", "a")
    assert caught.value.status_code == 503
    assert caught.value.message == "try again"
    assert len(proxy.posts()) == 3  # the first try and two retries
    assert count_events(srv, tenant) == 0


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    from phospho._retry import RetryPolicy

    policy = RetryPolicy(max_retries=10, backoff=0.5, backoff_max=4.0)
    for attempt, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
        delays = [policy.delay(attempt, None) for _ in range(200)]
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # jitter
    assert policy.delay(10, None) is None
    assert policy.delay(0, 7.0) == 7.0


def test_feedback_is_retried_only_when_it_cannot_have_been_stored(
    srv: Server, tenant: Tenant, proxy: FlakyProxy
) -> None:
    sdk = client(proxy, tenant)
    event = sdk.log("q", "a")
    proxy.add("503", "429:0")  # the server said it did not process it: safe to retry
    sdk.feedback(event["event_id"], 1)
    assert count_feedback(srv, tenant) == 1

    # Feedback has no idempotency key: after a lost answer the SDK cannot know whether it was
    # stored, so it reports the failure instead of risking a duplicate.
    proxy.add("forward-then-drop")
    with pytest.raises(phospho.APIConnectionError):
        sdk.feedback(event["event_id"], 0)
    assert count_feedback(srv, tenant) == 2


async def test_async_client_retries_without_duplicates(
    srv: Server, tenant: Tenant, proxy: FlakyProxy
) -> None:
    proxy.add("503", "forward-then-drop")
    async with phospho.AsyncClient(api_key=tenant.key, base_url=proxy.url, **FAST) as sdk:  # type: ignore[arg-type]
        result = await sdk.log("q", "a")
        batch = await sdk.log_batch([{"input": "b", "output": "b"}] * 3)
    assert [p.fault for p in proxy.posts()] == ["503", "forward-then-drop", None, None]
    assert len({result["event_id"], *(r["event_id"] for r in batch)}) == 4
    assert count_events(srv, tenant) == 4


def test_background_mode_retries_batches_without_duplicates(
    srv: Server, tenant: Tenant, proxy: FlakyProxy
) -> None:
    proxy.add("503", "forward-then-drop", "429:0")
    sdk = client(proxy, tenant, background=True, flush_interval=0.05)
    for i in range(20):
        sdk.log(f"q{i}", "a")
    assert sdk.flush(timeout=10) is True
    assert sdk.stats() == {"queued": 0, "sent": 20, "dropped": 0, "failed": 0}
    assert count_events(srv, tenant) == 20
    sdk.close()
