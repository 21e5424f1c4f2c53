"""The Python SDK against a real server with a tiny per-key rate limit: it waits the server's
Retry-After after each 429 and stores every event exactly once (direct and background mode)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import phospho
import pytest

from tests.harness import Server, serving

RATE = 4  # PHOSPHO_RATE_LIMIT=4/second: Retry-After is 1 s


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A SQLite server that lets each key make 4 requests per second."""
    with serving(
        "sqlite", tmp_path_factory.mktemp("sdk-rate"), PHOSPHO_RATE_LIMIT=f"{RATE}/second"
    ) as srv:
        yield srv


def per_session(server: Server, project_id: int) -> dict[str, int]:
    rows = server.query(
        "SELECT session_key, count(*), count(DISTINCT id) FROM events WHERE project_id = ? "
        "GROUP BY session_key",
        project_id,
    )
    assert all(count == distinct for _, count, distinct in rows)
    return {str(key): int(count) for key, count, _ in rows}


def test_direct_calls_wait_out_429s_and_store_each_event_once(limited: Server) -> None:
    tenant = limited.new_tenant()
    client = phospho.Client(api_key=tenant.key, base_url=limited.base_url, max_retries=10)
    started = time.monotonic()
    ids = [client.log("q", f"a{n}", session_id="direct")["event_id"] for n in range(3 * RATE)]
    elapsed = time.monotonic() - started
    client.close()
    # 4 at once, then a 429 and a wait of Retry-After (1 s) before each further group.
    assert elapsed >= 1.5, elapsed
    assert len(set(ids)) == 3 * RATE
    assert per_session(limited, tenant.project_id) == {"direct": 3 * RATE}


def test_background_batches_wait_out_429s_and_store_each_event_once(limited: Server) -> None:
    tenant = limited.new_tenant()
    client = phospho.Client(
        api_key=tenant.key,
        base_url=limited.base_url,
        background=True,
        max_batch_size=3,
        flush_interval=0.01,
        max_retries=10,
    )
    started = time.monotonic()
    for n in range(30):  # at least 10 batch requests: more than the bucket holds
        client.log("q", f"a{n}", session_id="background")
    assert client.flush(timeout=30)
    elapsed = time.monotonic() - started
    stats = client.stats()
    client.close()
    assert elapsed >= 1.0, elapsed  # some batch waited a Retry-After
    assert per_session(limited, tenant.project_id) == {"background": 30}, stats
