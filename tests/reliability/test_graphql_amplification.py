"""Issue 17's amplification query, on both databases: refused before it runs, while the
server's memory stays flat and `/api/v1/health` keeps answering within 100 ms (95% of probes;
every probe within 1 s).

The query is 1.85 KB: 15 aliases of `events(first: 100) → session → events(first: 100) →
input`. Over the 100 events of 10 KB seeded here it asks for 150,000 events, 1.5 GB of JSON;
before the cost limit it took the server from 0.4 to 4.6 GB and the health check to 22 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.graphql_api.helpers import AMPLIFICATION, memory_kib, post, reset_peak_memory
from tests.harness import Server, Tenant, start_server

SENDERS = 2
SECONDS = 3.0
HEALTH_LIMIT = 0.100  # for the 95th percentile of the probes
# For the slowest probe: the suite runs two test files at once on two cores, so one probe in
# ~150 can wait behind the other file's work (CI saw 123 ms once). Unprotected, this query took
# the health check to 22 s: a bound of 1 s still tells the two apart by a factor of 20.
HEALTH_WORST = 1.0
MAX_GROWTH_KIB = 32 * 1024


@pytest.fixture
def seeded(backend: str, tmp_path: Path) -> Iterator[tuple[Server, Tenant]]:
    """A server with 100 events of 10 KB in one session."""
    srv = start_server(backend, tmp_path)
    try:
        tenant = srv.new_tenant()
        events = [{"input": "x" * 10_000, "output": "y", "session_id": "s"} for _ in range(100)]
        answer = httpx.post(
            srv.base_url + "/api/v1/events/batch",
            json={"events": events},
            headers=tenant.headers,
            timeout=60,
        )
        assert answer.status_code == 201, answer.text
        yield srv, tenant
    finally:
        srv.destroy()


# A sender: its own process, so that the clients' work does not slow the test's health probe.
SENDER = """
import collections, json, sys, time
import httpx
url, key, query, seconds = sys.argv[1], sys.argv[2], sys.stdin.read(), float(sys.argv[3])
codes = collections.Counter()
with httpx.Client(base_url=url, headers={"Authorization": "Bearer " + key}, timeout=120) as c:
    c.get("/api/v1/health")
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or not codes:
        errors = c.post("/graphql", json={"query": query}).json().get("errors")
        codes[errors[0]["extensions"]["code"] if errors else "answered"] += 1
print(json.dumps(codes))
"""


def attack(
    srv: Server, tenant: Tenant, query: str, seconds: float
) -> tuple[list[float], Counter[str]]:
    """Send `query` from SENDERS processes for `seconds` while timing the health check every
    20 ms; the health latencies and the code of each answer's first error ("answered")."""
    args = [sys.executable, "-c", SENDER, srv.base_url, tenant.key, str(seconds)]
    senders = [
        subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(SENDERS)
    ]
    for sender in senders:
        assert sender.stdin is not None and sender.stdout is not None
        sender.stdin.write(query)
        sender.stdin.close()
    for sender in senders:  # probe once they send, not while they start (CPU-bound imports)
        assert sender.stdout is not None and sender.stdout.readline() == "ready\n"
    latencies: list[float] = []
    with httpx.Client(base_url=srv.base_url, timeout=120) as health:
        while any(sender.poll() is None for sender in senders):
            began = time.perf_counter()
            assert health.get("/api/v1/health").status_code == 200
            latencies.append(time.perf_counter() - began)
            time.sleep(0.02)
    codes: Counter[str] = Counter()
    for sender in senders:
        assert sender.stdout is not None and sender.wait() == 0
        codes.update(json.loads(sender.stdout.read()))
    return latencies, codes


def test_the_amplification_query_is_refused_and_harms_no_one(
    seeded: tuple[Server, Tenant],
) -> None:
    srv, tenant = seeded
    assert len(AMPLIFICATION) < 1_900
    [error] = post(srv, tenant, AMPLIFICATION).json()["errors"]  # and warm up
    assert error["extensions"]["code"] == "query_too_costly"
    before = memory_kib(srv)
    reset_peak_memory(srv)
    latencies, codes = attack(srv, tenant, AMPLIFICATION, SECONDS)
    assert codes["query_too_costly"] >= 30 and set(codes) == {"query_too_costly"}
    slowest = sorted(latencies)
    assert slowest[int(len(slowest) * 0.95)] < HEALTH_LIMIT, slowest[-10:]
    assert slowest[-1] < HEALTH_WORST, slowest[-10:]
    assert memory_kib(srv, "VmHWM") - before < MAX_GROWTH_KIB


def test_the_memory_check_sees_an_amplified_answer(seeded: tuple[Server, Tenant]) -> None:
    """Negative control: with both limits lifted, one alias of the query (10,000 events,
    100 MB of JSON) runs, and the memory check fails (measured: +350 to +380 MiB). The health
    check is not asserted here: the server awaits the database between resolvers, so the
    probe waits only for the longest synchronous step (measured 100-170 ms: too close to the
    limit to assert either way)."""
    srv, tenant = seeded
    srv.stop()
    srv.extra_env.update(
        PHOSPHO_GRAPHQL_MAX_COST=str(10**9), PHOSPHO_GRAPHQL_MAX_RESPONSE_BYTES=str(2**31)
    )
    srv.start()
    one_alias = AMPLIFICATION.split(" a1:")[0] + " }"
    post(srv, tenant, "{ project { name } }")
    before = memory_kib(srv)
    reset_peak_memory(srv)
    _, codes = attack(srv, tenant, one_alias, 0.5)
    assert set(codes) == {"answered"}
    assert memory_kib(srv, "VmHWM") - before >= MAX_GROWTH_KIB
