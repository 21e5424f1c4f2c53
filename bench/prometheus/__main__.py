"""Scrape benchmark: the time to render `GET /metrics` (issue 22), median and p95 over
--scrapes scrapes (10,000 by default), four ways:

1. in-process, one process: `generate_latest` of app/api/prometheus.py's scrape registry;
2. in-process, multiprocess mode: the same over `PROMETHEUS_MULTIPROC_DIR` holding two
   workers' files (`MultiProcessCollector` reads and merges them at every scrape);
3. over HTTP, one process: `GET /metrics` from a real `phospho serve` (SQLite), one
   keep-alive connection, the time from sending to the whole answer read;
4. over HTTP, multiprocess: the same server started with `PROMETHEUS_MULTIPROC_DIR` holding a
   second worker's files beside its own.

Every registry is filled alike first (`populate`): the series a busy server has (20 routes x
3 statuses, their latency histograms, commits, refusals...), so the text is of a realistic
size (its bytes are printed). Run: .venv/bin/python -m bench.prometheus [--scrapes 10000]
Progress goes to stderr, the report to stdout. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Recorded in every process that stands for a worker (run with `-c`, after the env is set).
POPULATE = """
import random
from app.instruments import (COMMIT_LATENCY, COMMIT_SIZE, EVENTS_STORED, FEEDBACK_STORED,
    HTTP_LATENCY, HTTP_REQUESTS, LIVE_SUBSCRIBERS, REFUSED, WRITE_QUEUE)
rng = random.Random(1)
for n in range(20):
    route = f"/api/v1/route{n}/{{id}}"
    for status in ("200", "201", "404"):
        HTTP_REQUESTS.labels(route, "POST", status).inc(rng.randrange(1, 10_000))
    for _ in range(200):
        HTTP_LATENCY.labels(route).observe(rng.expovariate(200))
for _ in range(2000):
    COMMIT_LATENCY.observe(rng.expovariate(500))
    COMMIT_SIZE.observe(rng.randrange(1, 64))
for reason in ("in_flight", "in_flight_bytes", "pipelined"):
    REFUSED.labels(reason).inc(rng.randrange(100))
EVENTS_STORED.inc(123_456)
FEEDBACK_STORED.inc(789)
LIVE_SUBSCRIBERS.inc(3)
WRITE_QUEUE.set(5)
"""
# Times `generate_latest` in the process it runs in (with or without the multiprocess env).
RENDER = (
    POPULATE
    + """
import asyncio, statistics, sys, time
from prometheus_client import generate_latest
from app.api.prometheus import scrape_registry
from app.services.database_size import DatabaseSize
size = DatabaseSize("sqlite://" + sys.argv[1])
asyncio.run(size.refresh())
registry = scrape_registry(size)
from prometheus_client import disable_created_metrics
disable_created_metrics()  # as the server's MetricsEndpoint does
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    text = generate_latest(registry)
    times.append(time.perf_counter() - started)
times.sort()
print(statistics.median(times), times[int(len(times) * 0.95)], len(text))
"""
)


def run_python(code: str, env: dict[str, str], *args: str) -> str:
    """Run `code` in a new interpreter (the repo on its path); its stdout."""
    full = {**env, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, *args], env=full, capture_output=True,
                          text=True, check=True, timeout=900)  # fmt: skip
    return done.stdout.strip()


def in_process(scrapes: int, workdir: Path, multiproc: Path | None) -> tuple[float, float, int]:
    """Median and p95 seconds of a render, and the text's bytes."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if multiproc is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
        run_python(POPULATE, env)  # the other worker's files (its process has exited)
    db = workdir / "size.sqlite3"
    db.write_bytes(b"\0" * 4096)
    median, p95, size = run_python(RENDER, env, str(db), str(scrapes)).split()
    return float(median), float(p95), int(size)


def over_http(scrapes: int, workdir: Path, multiproc: Path | None) -> tuple[float, float, int]:
    """Median and p95 seconds of `GET /metrics` from a real server, and the answer's bytes."""
    import httpx

    from tests.harness import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHOSPHO_", "PROMETHEUS_"))}
    env.update(PHOSPHO_DATA_DIR=str(workdir / "server"), PHOSPHO_PORT=str(port),
               PYTHONPATH=str(REPO))  # fmt: skip
    if multiproc is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
        run_python(POPULATE, env)  # the other worker's files
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=10) as client:
            for _ in range(300):
                try:
                    if client.get("/api/v1/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)
            # This worker's own series: the routes a dashboard and clients use.
            for path in ("/api/v1/events", "/api/v1/events/batch", "/v1/traces"):
                client.post(path, json={})
            for path in ("/login", "/signup", "/api/docs", "/openapi.json", "/no/such/path"):
                client.get(path)
            client.post("/graphql", json={"query": "{ __typename }"})
            times = []
            for _ in range(scrapes):
                started = time.perf_counter()
                response = client.get("/metrics")
                times.append(time.perf_counter() - started)
                assert response.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.95)], len(response.content)


def main() -> int:
    """Run the four measurements and print the table."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser("python -m bench.prometheus", description=__doc__,
                                     formatter_class=raw)  # fmt: skip
    parser.add_argument("--scrapes", type=int, default=10_000, help="scrapes per measurement")
    args = parser.parse_args()
    rows = []
    for how, measure in (("in-process", in_process), ("over HTTP", over_http)):
        for mode in ("one process", "multiprocess, 2 workers' files"):
            with tempfile.TemporaryDirectory(prefix="bench-prometheus-") as tmp:
                workdir = Path(tmp)
                multiproc = None
                if mode != "one process":
                    multiproc = workdir / "prom"
                    multiproc.mkdir()
                print(f"{how}, {mode}: {args.scrapes} scrapes...", file=sys.stderr)
                median, p95, size = measure(args.scrapes, workdir, multiproc)
                rows.append((how, mode, median, p95, size))
    print(f"{'render':<12}{'mode':<34}{'median ms':>10}{'p95 ms':>10}{'bytes':>9}")
    for how, mode, median, p95, size in rows:
        print(f"{how:<12}{mode:<34}{median * 1000:>10.3f}{p95 * 1000:>10.3f}{size:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
