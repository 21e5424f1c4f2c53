"""Time the common GraphQL page: `events(first: 50)` as graphql/operations/latest_events.graphql
asks it, against a real `phospho serve` (SQLite, or PostgreSQL with --postgres ADMIN_URL).

Prints the median wall time per request seen by a sequential client and the server's CPU time
per request (utime + stime of the server process, from /proc). Not a test: figures only.

    .venv/bin/python bench/graphql_page.py [--requests 400] [--postgres ADMIN_URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import harness

TICKS = os.sysconf("SC_CLK_TCK")
QUERIES = {
    "latest_events(50)": (harness.REPO / "graphql/operations/latest_events.graphql").read_text(),
    "ids(50)": "{ events(first: 50) { edges { node { id createdAt sessionId } } } }",
    "hot(50)": """{ events(first: 50) { edges { node { id input createdAt
        feedback { score comment } latestFeedback { score } session { id eventCount } } } } }""",
}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def seed(server: harness.Server, headers: dict[str, str], events: int) -> None:
    """`events` events of ~1 KB input and output in 20 sessions, feedback on every tenth."""
    text = "lorem ipsum dolor sit amet " * 40
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        for start in range(0, events, 500):
            batch = [
                {
                    "input": f"{n} {text}",
                    "output": text,
                    "session_id": f"s{n % 20}",
                    "metadata": {"model": "gpt-4o", "tokens_in": 100, "tokens_out": 50},
                }
                for n in range(start, min(events, start + 500))
            ]
            answer = client.post("/api/v1/events/batch", json={"events": batch})
            answer.raise_for_status()
            for item in answer.json()["results"][::10]:
                client.post(f"/api/v1/events/{item['event_id']}/feedback", json={"score": 1})


def measure(server: harness.Server, headers: dict[str, str], query: str, requests: int) -> str:
    """Median wall time and server CPU per request of `requests` sequential POSTs."""
    assert server.proc is not None
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        for _ in range(30):  # warm up caches (parser, validation, SQLite pages)
            client.post("/graphql", json={"query": query}).raise_for_status()
        walls: list[float] = []
        cpu_before = cpu_seconds(server.proc.pid)
        for _ in range(requests):
            began = time.perf_counter()
            answer = client.post("/graphql", json={"query": query})
            walls.append(time.perf_counter() - began)
            assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
        cpu = (cpu_seconds(server.proc.pid) - cpu_before) / requests
    return f"median {statistics.median(walls) * 1000:.2f} ms wall, {cpu * 1000:.2f} ms server CPU"


def main() -> None:
    """Seed a server, time each query, print one line per query."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--postgres", default="", help="admin URL: benchmark PostgreSQL")
    args = parser.parse_args()
    if args.postgres:
        harness.PG_ADMIN_URL = args.postgres
    backend = "postgres" if args.postgres else "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        server = harness.start_server(backend, Path(tmp))
        try:
            tenant = server.new_tenant()
            seed(server, tenant.headers, args.events)
            for name, query in QUERIES.items():
                print(f"{backend} {name}: {measure(server, tenant.headers, query, args.requests)}")
        finally:
            server.destroy()


if __name__ == "__main__":
    main()
