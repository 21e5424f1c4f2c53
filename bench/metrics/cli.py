"""Command line of `python -m bench.metrics` (the usage is in __main__.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from app.db import close_orm, init_orm
from app.services.users import create_user
from bench.ingest.wrkrun import WrkMissing
from bench.metrics import cost, httpload, pages, report
from bench.metrics.overview import RangeResult, time_range
from bench.metrics.rebuild import time_rebuild
from bench.metrics.seed import (
    PROJECT,
    Database,
    log,
    seed_history,
    settle_postgres,
    throwaway_database,
)

DAYS = 30
RANGES = ("24h", "30d")
Entry = tuple[str, cost.Comparison | str]


FOUNDATION = "9ceb99b"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options; --quick is a smoke run."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.metrics",
        description="Overview server time on a seeded history, and the ingest cost of rollups.",
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events to seed")
    parser.add_argument("--concurrency", type=int, default=6, help="batches in flight")
    parser.add_argument("--repeat", type=int, default=20, help="timed overview calls per range")
    parser.add_argument("--raw-repeat", type=int, default=5, help="timed raw-events references")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="seed a new PostgreSQL database "
                        "created from this admin URL instead of SQLite")  # fmt: skip
    parser.add_argument("--cost-events", type=int, default=100_000,
                        help="events per in-process round, rollups on / off")  # fmt: skip
    parser.add_argument("--cost-reps", type=int, default=7, help="rounds of on / off")
    parser.add_argument("--wrk-seconds", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--wrk-reps", type=int, default=15,
                        help="back-to-back repetitions per HTTP case")  # fmt: skip
    parser.add_argument("--foundation", metavar="REV", default=FOUNDATION,
                        help="compare HTTP ingest with the server of this git revision "
                        f"(default {FOUNDATION}: before cost and rollups; '' skips)")  # fmt: skip
    parser.add_argument("--no-http", action="store_true", help="skip the served page and wrk")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20,000 events, short")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.repeat, args.raw_repeat = 20_000, 5, 2
        args.cost_events, args.cost_reps, args.wrk_seconds, args.wrk_reps = 5_000, 1, 2, 1
    counts = (args.events, args.concurrency, args.repeat, args.raw_repeat, args.cost_reps,
              args.wrk_seconds, args.wrk_reps)  # fmt: skip
    if min(counts) < 1:
        parser.error("counts must be >= 1")
    return args


async def measure(db: Database, args: argparse.Namespace) -> list[str]:
    """Seed the history, time the overview both ways, then the pages and in-process cost."""
    log(f"seeding {args.events:,} events over {DAYS} days …")
    seeded = await seed_history(db, args.events, args.concurrency, DAYS)
    if args.postgres:
        log("VACUUM ANALYZE (as autovacuum would have by now) …")
        settle_postgres(db.url)
    backend = "PostgreSQL" if args.postgres else "SQLite (WAL, synchronous=FULL)"
    sections = [report.seeding(seeded, backend, args.concurrency, DAYS)]
    await init_orm(db.settings)
    try:
        log("timing the overview …")
        results: list[RangeResult] = [
            await time_range(seeded.project_id, name, args.repeat, args.raw_repeat)
            for name in RANGES
        ]
        await create_user(pages.EMAIL, pages.PASSWORD, PROJECT)
        log("rebuilding the rollups …")
        rebuilt = await time_rebuild(db, seeded.project_id)
    finally:
        await close_orm()
    sections.append(report.overview(results, seeded.events))
    sections.append(rebuilt)
    if not args.no_http:
        log("timing the pages over HTTP …")
        sections.append(report.pages(pages.time_pages(db, args.repeat)))
    sections.append(report.ingest_cost([*await _inprocess_cost(db, args), *_http_cost(args)]))
    return sections


async def _inprocess_cost(db: Database, args: argparse.Namespace) -> list[Entry]:
    what = f"in-process log_events, {args.cost_events:,} events a round"
    if not cost.inprocess_switch():
        return [(what, "skipped (needs Ingestor(rollups=False); not in this tree)")]
    log("in-process ingest, rollups on / off …")
    return [(what, await cost.inprocess(db, args.cost_events, args.cost_reps, args.concurrency))]


def _http_cost(args: argparse.Namespace) -> list[Entry]:
    if args.no_http:
        return [("HTTP", "skipped (--no-http)")]
    entries: list[Entry] = []
    try:
        if args.foundation:
            for payload in ("ingest", "metrics"):
                log(f"wrk: this tree / {args.foundation} / rollups off, {payload} bodies …")
                with httpload.foundation(args.foundation) as old:
                    variants = (httpload.Variant("this tree"), old, httpload.rollups_off())
                    found = httpload.compare(variants, args.wrk_seconds, args.wrk_reps, payload)
                entries += [
                    (f"HTTP (SQLite, {payload} bodies), {case}", result)
                    for case, result in found.items()
                ]
        else:
            entries.append(("HTTP against the foundation", "skipped (no --foundation)"))
    except WrkMissing as exc:
        entries.append(("HTTP", f"skipped ({exc})"))
    return entries


async def run(args: argparse.Namespace) -> list[str]:
    """Everything, in a throwaway database."""
    async with throwaway_database(args.postgres) as db:
        return await measure(db, args)


def main(argv: list[str] | None = None) -> int:
    """Run and print the report."""
    args = parse_args(argv)
    sections = asyncio.run(run(args))
    print("\n\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
