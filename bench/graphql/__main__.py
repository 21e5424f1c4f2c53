"""GraphQL read timings against a real `phospho serve` (issue 24): the events page with nested
feedback and session, its filtered variants, a session replay and the 24 h metrics, each
beside the same SQL alone, measured in the same run.

Run: .venv/bin/python -m bench.graphql [--events 100000] [--repeat 200]
                                       [--postgres ADMIN_URL] [--concurrency 4]
     (e.g. --events 1000000; ADMIN_URL like postgres://postgres@127.0.0.1:5432/postgres)

1. Seeds a throwaway SQLite database (or a new PostgreSQL database made from ADMIN_URL)
   through the in-process Ingestor's batch path (`log_events`, batches of 1000, as
   bench.metrics does): ~30% of events with feedback, sessions, ~2000 end users, over the
   last 7 days; the newest 10,000 events match none of the filters (bench/graphql/seed.py).
2. Captures the SQL each operation runs (an in-process app, same code and connection settings
   as the server) and times it alone: the statements replayed back to back on the read
   connection (median of --repeat).
3. Starts `phospho serve` on the database (pinned to core 0; this client moves to core 1) and
   times each operation over HTTP, keep-alive, one at a time: median and p95 of the wall time
   seen by this local client (server time plus ~0.2 ms of localhost HTTP), and the server's
   CPU time per request (utime + stime from /proc).
PostgreSQL is measured right after the bulk load, then again after VACUUM ANALYZE.
Not a test: figures depend on the machine; quote the load (`uptime`) beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from bench.graphql import queries
from bench.graphql.seed import seed
from bench.ingest.procs import cpu_seconds
from bench.metrics.pages import serve
from bench.metrics.seed import Database, log, settle_postgres, throwaway_database

CLIENT_CORE = 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200, help="timed requests per operation")
    parser.add_argument("--postgres", default="", help="admin URL: benchmark PostgreSQL")
    parser.add_argument("--concurrency", type=int, default=4, help="batches in flight")
    return parser.parse_args(argv)


async def measure(db: Database, key: str, label: str, repeat: int) -> list[str]:
    """One table: every operation over HTTP beside its SQL alone."""
    statements = await queries.capture(db.settings, key)
    sql_alone = await queries.time_sql(db.settings, statements, repeat)
    server = serve(db, name=f"phospho-{label.split()[0]}")
    server.start()
    try:
        affinity = os.sched_getaffinity(0)
        if CLIENT_CORE < (os.cpu_count() or 1):
            os.sched_setaffinity(0, {CLIENT_CORE})
        try:
            http = queries.time_http(server.base_url, key, lambda: cpu_seconds(server.pid), repeat)
        finally:
            os.sched_setaffinity(0, affinity)
    finally:
        server.stop()
    lines = [
        f"\n{label} (load: {os.getloadavg()[0]:.2f})",
        f"{'operation':<34}{'median':>8}{'p95':>8}{'CPU/req':>9}{'SQL':>7}{'ratio':>7}"
        f"{'stmts':>6}{'KB':>7}",
    ]
    for name, (median, p95, cpu, size) in http.items():
        alone = sql_alone[name]
        lines.append(
            f"{name:<34}{median:>8.2f}{p95:>8.2f}{cpu:>9.2f}{alone:>7.2f}"
            f"{median / alone if alone else 0:>7.1f}{len(statements[name]):>6}{size / 1024:>7.1f}"
        )
    lines.append("(ms; median/p95: wall at a local client; CPU/req: server's; SQL: alone)")
    return lines


async def run(args: argparse.Namespace) -> list[str]:
    """Seed, measure, and (PostgreSQL) measure again after VACUUM ANALYZE."""
    backend = "postgres" if args.postgres else "sqlite"
    report = [f"bench/graphql: {args.events:,} events, {backend}, {args.repeat} requests each"]
    async with throwaway_database(args.postgres or None) as db:
        log(f"seeding {args.events:,} events ({backend})")
        key, seconds, feedback = await seed(db, args.events, args.concurrency)
        report.append(
            f"seeded {args.events:,} events and {feedback:,} feedback in {seconds:.1f} s "
            f"({args.events / seconds:,.0f} events/s, in-process Ingestor.log_events)"
        )
        log(report[-1])
        after_load = ", right after the bulk load" if args.postgres else ""
        first = f"{backend} {args.events:,}{after_load}"
        report += await measure(db, key, first, args.repeat)
        if args.postgres:
            began = time.perf_counter()
            settle_postgres(db.url)
            report.append(f"\nVACUUM ANALYZE: {time.perf_counter() - began:.1f} s")
            report += await measure(db, key, f"{backend} {args.events:,}, after VACUUM ANALYZE",
                                    args.repeat)  # fmt: skip
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its tables."""
    report = asyncio.run(run(parse_args(argv)))
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
