"""Command line of `python -m bench.dashboard` (the usage is in __main__.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

from app.db import close_orm, init_orm
from app.services.users import create_user
from bench.dashboard import seed, timing
from bench.metrics.pages import EMAIL, PASSWORD
from bench.metrics.seed import PROJECT, Database, log

TARGET_MS = 50.0
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.dashboard",
        description="Every dashboard page's server time on a seeded month of events.",
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events to seed")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-admin", default=ADMIN_URL, metavar="URL",
                        help="where the throwaway PostgreSQL database is made")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=6, help="batches in flight")
    parser.add_argument("--baseline", type=Path, metavar="TREE",
                        help="time the server of this source tree (e.g. `git archive` of an "
                        "older commit) on its schema, then migrate and time this one")  # fmt: skip
    args = parser.parse_args(argv)
    if min(args.events, args.repeat, args.concurrency) < 1:
        parser.error("counts must be >= 1")
    return args


def uptime() -> str:
    """The load averages, printed beside each run (the machine is shared)."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def table(title: str, timings: list[timing.Timing]) -> str:
    """The report of one run: every page, its median and p95 server time, flagged over target."""
    lines = [f"## {title}", f"({uptime()})", "",
             f"{'page':<40}{'median':>9}{'p95':>9}{'client':>9}{'status':>7}{'bytes':>9}",
             ""]  # fmt: skip
    over = []
    for t in timings:
        reference = t.page.name.startswith("reference")
        flag = "" if reference or t.median() <= TARGET_MS else "  > 50 ms"
        if flag or (t.status != 200 and not reference):
            over.append(t.page.name)
        source = "" if t.server_ms else " (client)"
        lines.append(f"{t.page.name:<40}{t.median():>9.1f}{t.p95():>9.1f}{t.client_median():>9.1f}"
                     f"{t.status:>7}{t.size:>9,}{flag}{source}")  # fmt: skip
    verdict = "PASS" if not over else f"FAIL ({len(over)} over {TARGET_MS:.0f} ms or not 200)"
    lines += ["", "median / p95: server time (ms, its access log); client: on loopback (ms)",
              f"target: every page <= {TARGET_MS:.0f} ms median: {verdict}"]  # fmt: skip
    return "\n".join(lines)


def set_autovacuum(url: str, enabled: bool) -> None:
    """Autovacuum on or off for every table of the bench database: off while loading and for
    the "before ANALYZE" figure (which then has no statistics at all), on again after."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]  # fmt: skip
        for name in names:
            conn.execute(f'ALTER TABLE "{name}" SET (autovacuum_enabled = {str(enabled).lower()})')


def analyze(url: str, statement: str = "ANALYZE") -> float:
    """ANALYZE, as an operator would after a bulk load (or `statement`: VACUUM ANALYZE, what
    autovacuum does by itself after a bulk insert since PostgreSQL 13, which also sets the
    visibility map that index-only scans need); returns the seconds it took."""
    import time

    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)
    return time.perf_counter() - started


def phases(
    db: Database, postgres: bool, facts: dict[str, str], args: argparse.Namespace,
    label: str, env: dict[str, str], analyzed: bool,
) -> list[str]:  # fmt: skip
    """Time the server of `env`'s tree: SQLite once; PostgreSQL right after the load (unless
    `analyzed` already), after ANALYZE and after VACUUM ANALYZE (autovacuum's own work)."""
    events = f"{args.events:,} events, {label}"
    if not postgres:
        return [table(f"SQLite, {events}", timing.time_all(db, facts, args.repeat, "sq", env))]
    found = []
    if not analyzed:
        before = timing.time_all(db, facts, args.repeat, "pg-before", env)
        found.append(table(f"PostgreSQL, {events}, before ANALYZE", before))
    seconds = analyze(db.url)
    after = timing.time_all(db, facts, args.repeat, "pg-after", env)
    found.append(table(f"PostgreSQL, {events}, after ANALYZE ({seconds:.1f} s)", after))
    seconds = analyze(db.url, "VACUUM ANALYZE")
    vacuumed = timing.time_all(db, facts, args.repeat, "pg-vacuumed", env)
    return [
        *found,
        table(f"PostgreSQL, {events}, after VACUUM ANALYZE ({seconds:.1f} s)", vacuumed),
    ]


async def run_one(db: Database, postgres: bool, args: argparse.Namespace) -> list[str]:
    """Seed `db`, then time every page (PostgreSQL: before and after ANALYZE); with a
    --baseline tree, its server first, then this checkout's after migrating (an upgrade)."""
    name = "PostgreSQL" if postgres else "SQLite"
    if postgres:
        set_autovacuum(db.url, False)
    log(f"{name}: seeding {args.events:,} events over {seed.DAYS} days …")
    seeded = await seed.seed(db, args.events, args.concurrency)
    rate = seeded.events / seeded.seconds
    sections = [f"# {name}: {seeded.events:,} events and {seeded.feedback:,} feedback seeded "
                f"through Ingestor.log_events/add_feedback in {seeded.seconds:.1f} s "
                f"({rate:,.0f} events/s, {args.concurrency} batches in flight)"]  # fmt: skip
    await init_orm(db.settings)
    try:
        facts = await seed.facts(seeded.project_id)
        await create_user(EMAIL, PASSWORD, PROJECT)
    finally:
        await close_orm()
    if args.baseline is None:
        return [*sections, *phases(db, postgres, facts, args, "this checkout", {}, False)]
    env = seed.tree_env(args.baseline)
    sections += phases(db, postgres, facts, args, f"baseline {args.baseline}", env, False)
    seconds = await seed.migrate(db)
    sections.append(f"(migrated to this checkout's schema in {seconds:.1f} s)")
    return [*sections, *phases(db, postgres, facts, args, "this checkout", {}, postgres)]


async def run(args: argparse.Namespace, postgres: bool) -> list[str]:
    """One database, thrown away after."""
    admin = args.postgres_admin if postgres else None
    async with seed.throwaway(admin, args.baseline) as db:
        return await run_one(db, postgres, args)


def main(argv: list[str] | None = None) -> int:
    """Run and print the report (progress on stderr)."""
    args = parse_args(argv)
    os.environ.pop("PHOSPHO_DATABASE_URL", None)
    kinds = {"sqlite": (False,), "postgres": (True,), "both": (False, True)}[args.database]
    for postgres in kinds:
        sections = asyncio.run(run(args, postgres))
        print("\n\n".join(sections) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
