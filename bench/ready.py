"""`python -m bench.ready`: what `GET /api/v1/ready` costs, alone and beside ingest.

1. Idle: N sequential readiness checks on one keep-alive connection: p50/p99 latency and the
   server's CPU time per check.
2. Under load: single-event ingest with wrk (16 connections), alone and with a poller asking
   `/api/v1/ready` at `--rate` per second (a load balancer is 0.2-1/s per node; 10/s is the
   issue's bound), interleaved `--reps` times: ingest events/s of each (medians, the ratio is
   the cost) and the poller's latencies and statuses (all 200 expected).

The server runs pinned to core 0 and wrk to core 1 (bench/ingest's helpers). `--postgres
ADMIN_URL` runs against a throwaway PostgreSQL database instead of SQLite.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.ingest.payload import single_bodies
from bench.ingest.procs import PHOSPHO, Server, cpu_seconds, create_key, phospho_server
from bench.ingest.wrkrun import run_wrk, write_load


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def idle_checks(server: Server, count: int) -> tuple[list[float], float]:
    """Latencies (µs) of `count` sequential checks, and the server's CPU µs per check."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    latencies: list[float] = []
    cpu = cpu_seconds(server.pid)
    for _ in range(count):
        started = time.perf_counter()
        conn.request("GET", "/api/v1/ready")
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1e6)
        assert response.status == 200, response.status
    conn.close()
    return latencies, (cpu_seconds(server.pid) - cpu) / count * 1e6


class Poller(threading.Thread):
    """Asks `/api/v1/ready` `rate` times a second on one keep-alive connection."""

    def __init__(self, port: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.port, self.interval = port, 1 / rate
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        """Until stopped."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        next_at = time.monotonic()
        while not self.stop.is_set():
            started = time.perf_counter()
            conn.request("GET", "/api/v1/ready")
            response = conn.getresponse()
            response.read()
            self.latencies.append((time.perf_counter() - started) * 1e6)
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
            next_at += self.interval
            self.stop.wait(max(0.0, next_at - time.monotonic()))
        conn.close()


def main() -> int:
    """Run both parts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=2000, help="idle checks")
    parser.add_argument("--rate", type=float, default=10.0, help="readiness checks per second")
    parser.add_argument("--duration", type=int, default=10, help="seconds per ingest run")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="use a throwaway PostgreSQL DB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        server = phospho_server(work / "data", work)
        database = setup_postgres(args.postgres, server) if args.postgres else None
        try:
            key = create_key_for(server, work)
            server.start()
            run(server, key, work, args)
        finally:
            server.stop()
            if database is not None:
                drop_postgres(args.postgres, database)
    return 0


def setup_postgres(admin_url: str, server: Server) -> str:
    """Create and migrate a throwaway database; point the server at it; its name."""
    import psycopg

    name = "phospho_bench_" + secrets.token_hex(5)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    server.env["PHOSPHO_DATABASE_URL"] = admin_url.rsplit("/", 1)[0] + "/" + name
    subprocess.run([str(PHOSPHO), "migrate"], env={**os.environ, **server.env}, check=True)
    return name


def drop_postgres(admin_url: str, name: str) -> None:
    """Drop the throwaway database."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def create_key_for(server: Server, work: Path) -> str:
    """A key in the server's database (SQLite: its data directory; PostgreSQL: the URL)."""
    if "PHOSPHO_DATABASE_URL" not in server.env:
        return create_key(work / "data")
    done = subprocess.run(
        [str(PHOSPHO), "keys", "create", "--project", "bench"],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def run(server: Server, key: str, work: Path, args: argparse.Namespace) -> None:
    """Both parts, printed."""
    database = "PostgreSQL" if args.postgres else "SQLite"
    latencies, cpu = idle_checks(server, args.checks)
    print(f"idle ({database}), {args.checks} checks: p50 {percentile(latencies, 50):.0f} µs, "
          f"p99 {percentile(latencies, 99):.0f} µs, server CPU {cpu:.0f} µs per check")  # fmt: skip
    load = write_load(work, "single", "/api/v1/events", key, single_bodies())
    run_wrk(server.base_url, load, args.connections, 2)  # warm-up
    alone: list[float] = []
    polled: list[float] = []
    under: list[float] = []
    statuses: dict[int, int] = {}
    for _ in range(args.reps):
        alone.append(run_wrk(server.base_url, load, args.connections, args.duration)["events_s"])
        poller = Poller(server.port, args.rate)
        poller.start()
        polled.append(run_wrk(server.base_url, load, args.connections, args.duration)["events_s"])
        poller.stop.set()
        poller.join()
        under += poller.latencies
        for status, count in poller.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    a, p = statistics.median(alone), statistics.median(polled)
    print(f"ingest, {args.connections} connections, {args.reps} x {args.duration} s: "
          f"alone {a:.0f} events/s, with /ready at {args.rate:g}/s {p:.0f} events/s "
          f"(ratio {p / a:.3f}; runs alone {[round(x) for x in alone]}, "
          f"polled {[round(x) for x in polled]})")  # fmt: skip
    print(f"/ready under ingest load: {len(under)} checks, statuses {statuses}, "
          f"p50 {percentile(under, 50) / 1000:.2f} ms, p99 {percentile(under, 99) / 1000:.2f} ms, "
          f"max {max(under) / 1000:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
