"""Command line of `python bench/export` (the usage is in __main__.py)."""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.export.seed import seed, seed_postgres
from bench.ingest import procs

BODY = b'{"input": "How do I reset my password?", "output": "Use the link.", "metadata": {"model": "gpt-4o-mini", "tokens_in": 9, "tokens_out": 4}}'  # noqa: E501
CLIENT_CORE = 1  # the server runs on core 0 (procs.SERVER_CORE)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options; --quick is a smoke run."""
    parser = argparse.ArgumentParser(prog="python bench/export")
    parser.add_argument("--events", type=int, default=1_000_000, help="events to seed")
    parser.add_argument("--runs", type=int, default=3, help="measured runs (medians printed)")
    parser.add_argument("--rate", type=int, default=200, help="single events per second")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="seed a new PostgreSQL database "
                        "created from this admin URL instead of SQLite")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smoke run: 50,000 events, 1 run")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.runs = 50_000, 1
    return args


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


class RssSampler(threading.Thread):
    """The largest VmRSS seen every 20 ms until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_kib(self.pid)[0])
            self.done.wait(0.02)


def ingest(port: int, key: str, rate: int, until: threading.Event | float) -> list[float]:
    """Single events at a fixed rate on one keep-alive connection until `until` (an event, or
    a duration in s); each latency from the request's scheduled time (no coordinated
    omission), in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    start = time.perf_counter()
    deadline = start + until if isinstance(until, float) else None
    n = 0
    while True:
        due = start + n / rate
        now = time.perf_counter()
        if (deadline is not None and now >= deadline) or (
            isinstance(until, threading.Event) and until.is_set()
        ):
            break
        if due > now:
            time.sleep(due - now)
        conn.request("POST", "/api/v1/events", body=BODY, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"ingest answered {response.status}")
        latencies.append((time.perf_counter() - due) * 1000)
        n += 1
    conn.close()
    return latencies


def p99(values: list[float]) -> float:
    """The 99th percentile."""
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else float("nan")


@dataclass
class Run:
    """One run's figures."""

    rows: int
    seconds: float
    rss_growth_mib: float
    p99_alone_ms: float
    p99_during_ms: float
    requests_during: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


def export_run(server: procs.Server, key: str, rate: int, window: float) -> Run:
    """Ingest alone for `window` s, then the same ingest during one full export."""
    alone = ingest(server.port, key, rate, window)
    before = rss_kib(server.pid)[0]
    sampler = RssSampler(server.pid)
    sampler.start()
    finished = threading.Event()
    during: list[float] = []
    client = threading.Thread(
        target=lambda: during.extend(ingest(server.port, key, rate, finished)), daemon=True
    )
    url = f"{server.base_url}/api/v1/events/export?format=jsonl"
    download = subprocess.Popen(
        [sys.executable, "-m", "bench.export.download", url, key],
        stdout=subprocess.PIPE, text=True, cwd=procs.REPO,
    )  # fmt: skip
    client.start()
    out, _ = download.communicate(timeout=1200)
    finished.set()
    client.join()
    sampler.done.set()
    sampler.join()
    rows, _, seconds = out.split()
    growth = (sampler.peak - before) / 1024
    return Run(int(rows), float(seconds), growth, p99(alone), p99(during), len(during))


def _phospho(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(procs.PHOSPHO), *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    return done.stdout.strip()


def prepare(args: argparse.Namespace, work: Path) -> tuple[procs.Server, str, str | None]:
    """A seeded database and its (not started) server and key; the PostgreSQL URL if any."""
    env = {"PHOSPHO_DATA_DIR": str(work)}
    url = None
    if args.postgres:
        import psycopg

        from bench.metrics.seed import _create_pg_database

        url = _create_pg_database(args.postgres)
        env["PHOSPHO_DATABASE_URL"] = url
        _phospho(env, "migrate")
    key = _phospho(env, "keys", "create", "--project", "bench")
    if url:
        with psycopg.connect(url) as conn:
            [(project_id,)] = conn.execute("SELECT id FROM projects WHERE name = 'bench'")
        took = seed_postgres(url, project_id, args.events)
    else:
        db = work / "phospho.sqlite3"
        with sqlite3.connect(db) as lite:
            [(project_id,)] = lite.execute("SELECT id FROM projects WHERE name = 'bench'")
        lite.close()
        took = seed(db, project_id, args.events)
    print(f"seeded {args.events:,} events in {took:.1f} s", file=sys.stderr)
    server = procs.Server("phospho", [str(procs.PHOSPHO), "serve"], env, work / "phospho.log")
    return server, key, url


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, measure, print the table."""
    args = parse_args(argv)
    os.sched_setaffinity(0, {CLIENT_CORE})
    work = Path(tempfile.mkdtemp(prefix="phospho-bench-export-"))
    url = None
    try:
        server, key, url = prepare(args, work)
        server.start()
        try:
            warm = export_run(server, key, args.rate, 2.0)  # page cache warm, not reported
            window = max(5.0, warm.seconds)
            runs = [export_run(server, key, args.rate, window) for _ in range(args.runs)]
        finally:
            server.stop()
        report(args, runs)
    finally:
        if url:
            from bench.metrics.seed import _drop_pg_database

            _drop_pg_database(args.postgres, url)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(args: argparse.Namespace, runs: list[Run]) -> None:
    """The table: each run, then medians and ratios against the targets."""
    load = os.getloadavg()
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"export of {args.events:,} events as JSONL, {database}; ingest {args.rate}/s single "
          f"events; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"{'run':<8}{'rows':>10}{'seconds':>9}{'rows/s':>10}{'RSS +MiB':>10}"
          f"{'p99 alone':>11}{'p99 export':>12}{'ratio':>7}")  # fmt: skip
    for i, run in enumerate(runs, 1):
        ratio = run.p99_during_ms / run.p99_alone_ms
        print(f"{i:<8}{run.rows:>10,}{run.seconds:>9.2f}{run.rows_per_s:>10,.0f}"
              f"{run.rss_growth_mib:>10.1f}{run.p99_alone_ms:>10.2f}ms"
              f"{run.p99_during_ms:>10.2f}ms{ratio:>7.2f}")  # fmt: skip

    def median(values: list[float]) -> float:
        return statistics.median(values)

    rate = median([r.rows_per_s for r in runs])
    rss = median([r.rss_growth_mib for r in runs])
    alone, during = median([r.p99_alone_ms for r in runs]), median([r.p99_during_ms for r in runs])
    print(f"{'median':<8}{'':>10}{'':>9}{rate:>10,.0f}{rss:>10.1f}{alone:>10.2f}ms"
          f"{during:>10.2f}ms{during / alone:>7.2f}")  # fmt: skip
    print(f"targets: rows/s >= 100,000 ({'met' if rate >= 100_000 else 'MISSED'}); RSS growth "
          f"<= 50 MiB ({'met' if rss <= 50 else 'MISSED'}); p99 during <= 2x alone "
          f"({'met' if during <= 2 * alone else 'MISSED'})")  # fmt: skip
