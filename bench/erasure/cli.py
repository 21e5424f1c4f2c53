"""Command line of `python -m bench.erasure` (the usage is in __main__.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from app.services import deletion
from app.services.erasure import forget_end_user
from app.services.ingest import Ingestor
from app.services.ingest_jobs import MaintenanceJob
from app.services.keys import Principal
from app.services.rollups import Rollups
from app.services.sql import Dialect, dialect, fetch
from app.services.store import Plan, Query
from bench.erasure.check import rollup_rows, rows_naming
from bench.erasure.probe import baseline, probed
from bench.metrics import data
from bench.metrics.seed import (
    HistoryClock,
    bench_principal,
    running_ingestor,
    seed,
    settle_postgres,
    throwaway_database,
)

TARGETS = 4  # end users holding 10% of the events each: 3 erased, 1 for the reference
TIMED = 3


def target(k: int) -> str:
    """The k-th heavy end user."""
    return f"erase-target-{k}"


def batches(total: int) -> Iterator[list[dict[str, Any]]]:
    """bench/metrics' events, every n with n % 10 < TARGETS given to target n % 10, in
    sessions of its own (10 events each)."""
    for start in range(0, total, data.BATCH):
        events = data.batch(start, total)
        for n, body in enumerate(events, start):
            if n % 10 < TARGETS:
                body["user_id"] = target(n % 10)
                body["session_id"] = f"erase-{n % 10}-{n // 100}"
        yield events


def parse_args() -> argparse.Namespace:
    """The options."""
    parser = argparse.ArgumentParser(prog="python -m bench.erasure")
    parser.add_argument("--events", type=int, default=1_000_000, help="events to seed")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="benchmark PostgreSQL instead")
    parser.add_argument("--concurrency", type=int, default=4, help="seeding batches in flight")
    parser.add_argument("--probe-rate", type=float, default=200.0, help="probe events per second")
    parser.add_argument("--no-check", action="store_true", help="skip the rebuild comparison")
    return parser.parse_args()


async def run(args: argparse.Namespace) -> None:
    """Seed, erase, check, measure the reference; print the report."""
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    async with throwaway_database(args.postgres) as db:
        clock = HistoryClock(args.events, timedelta(days=30))
        async with running_ingestor(db, clock=clock) as ingestor:
            principal = await bench_principal()

            def advance(submitted: int) -> None:
                clock.submitted = submitted

            seeded = await seed(
                ingestor, principal, batches(args.events), args.concurrency, advance
            )
            clock.submitted = args.events  # from now on, the present
            rate = f"{seeded.events_per_s:,.0f} events/s"
            print(f"seeded {seeded.events:,} events in {seeded.seconds:.1f} s ({rate}), "
                  f"{seeded.feedback:,} feedback")  # fmt: skip
            if args.postgres:
                settle_postgres(db.url)
            await erase_and_probe(ingestor, principal, args.probe_rate)
            if not args.no_check:
                await check(ingestor, principal.project_id)
            await reference(ingestor, principal.project_id, TIMED)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


async def erase_and_probe(ingestor: Ingestor, principal: Principal, rate: float) -> None:
    """Erase the timed targets, each with the probe running, after a probe-only baseline."""
    seconds: list[float] = []
    for k in range(TIMED):
        before = await baseline(ingestor, principal, rate, 3.0)
        started = time.perf_counter()
        erased, during = await probed(
            ingestor, principal, rate, forget_end_user(ingestor, principal.project_id, target(k))
        )
        seconds.append(time.perf_counter() - started)
        print(f"erasure {k}: {erased.events:,} events, {erased.feedback:,} feedback, "
              f"{erased.sessions:,} sessions, {erased.user_rollups:,} per-user rows in "
              f"{seconds[-1]:.2f} s ({erased.events / seconds[-1]:,.0f} events/s)")  # fmt: skip
        print("  " + before.line("single-event ingest, baseline (3 s)"))
        print("  " + during.line("single-event ingest, during the erasure"))
        if before.values and during.values:
            ratio = during.quantile(0.99) / before.quantile(0.99)
            print(f"  p99 during / baseline: {ratio:.1f}x")
    print(f"erasure of {target(0)}..{TIMED - 1}: median {statistics.median(seconds):.2f} s")


async def check(ingestor: Ingestor, project_id: int) -> None:
    """No row names an erased user; the rollups equal a rebuild's."""
    named = {k: await rows_naming(project_id, target(k)) for k in range(TIMED)}
    print(f"rows still naming an erased user: {sum(sum(v.values()) for v in named.values())}")
    from app.services.ingest_jobs import FoldJob
    from app.services.rollups import rebuild

    await ingestor.writer.submit(FoldJob())
    erased = await rollup_rows(project_id)
    backend = ingestor.writer._backend
    assert backend is not None
    started = time.perf_counter()
    await backend.run(lambda: rebuild(backend.dialect, [project_id]))
    rebuilt = await rollup_rows(project_id)
    same = erased == rebuilt
    print(f"rollups after the erasures {'IDENTICAL to' if same else 'DIFFERENT from'} a rebuild "
          f"({len(rebuilt[0]):,} metric rows, {len(rebuilt[1]):,} per-user rows; the rebuild "
          f"took {time.perf_counter() - started:.1f} s)")  # fmt: skip


async def reference(ingestor: Ingestor, project_id: int, k: int) -> None:
    """Delete target k's rows as retention does (no rollup subtraction), timed."""
    user = target(k)

    def plan(d: Dialect, rollups: Rollups, now: Any) -> Plan[deletion.Deleted]:
        sql = "SELECT id FROM events WHERE project_id = ? AND user_id = ?"
        rows = yield Query(d.sql(sql), [project_id, user])
        return (yield from deletion.delete_events(d, project_id, [row["id"] for row in rows]))

    started = time.perf_counter()
    deleted = await ingestor.maintain(MaintenanceJob(project_id, plan, "reference deletion"))
    seconds = time.perf_counter() - started
    print(f"reference: deletion.delete_events of {user}'s {deleted.events:,} events (no rollup "
          f"subtraction) in {seconds:.2f} s")  # fmt: skip
    left = await fetch(dialect(), "SELECT COUNT(*) AS n FROM events", [])
    print(f"events left: {int(left[0]['n']):,}")


def main() -> int:
    """Entry point."""
    asyncio.run(run(parse_args()))
    return 0
