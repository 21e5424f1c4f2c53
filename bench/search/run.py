"""The search benchmark (usage in __main__.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.export.seed import seed, seed_postgres

REPO = Path(__file__).resolve().parents[2]
# (name, query): bench/export's texts say "Customer #<n> asks about <topic>: …".
QUERIES = (
    ("rare word (1 event)", "654321"),
    ("common word (every event)", "customer"),
    ("prefix (1 in 5)", "deliv"),
    ("two words (1 in 5)", "password reset"),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options."""
    parser = argparse.ArgumentParser(prog="python bench/search")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="PostgreSQL instead of SQLite")
    parser.add_argument("--keep", metavar="DIR", help="seed into DIR once and reuse it later")
    return parser.parse_args(argv)


def migrate(url: str, data_dir: Path) -> None:
    """`phospho migrate` on the database at `url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOSPHO_")}
    env.update(PHOSPHO_DATABASE_URL=url, PHOSPHO_DATA_DIR=str(data_dir), PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, check=True,
                   capture_output=True)  # fmt: skip


def prepare(args: argparse.Namespace, data_dir: Path) -> str:
    """A seeded database's URL (seeded now unless `--keep` already holds one)."""
    marker = data_dir / "seeded"
    if args.postgres:
        import psycopg

        name = "phospho_search_bench"
        url = args.postgres.rsplit("/", 1)[0] + "/" + name
        if marker.exists():
            return url
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        url = f"sqlite://{data_dir / 'phospho.sqlite3'}"
        if marker.exists():
            return url
    migrate(url, data_dir)
    project = "INSERT INTO projects (id, name, created_at) VALUES (1, 'bench', '2026-01-01')"
    if args.postgres:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(project)
        took = seed_postgres(url, 1, args.events)
    else:
        import sqlite3

        with sqlite3.connect(data_dir / "phospho.sqlite3") as conn:
            conn.execute(project)
        took = seed(data_dir / "phospho.sqlite3", 1, args.events)
    print(f"seeded {args.events:,} events in {took:.0f} s", flush=True)
    marker.touch()
    return url


async def measure(url: str, data_dir: Path, runs: int) -> None:
    """Time each query and order; print median and p90 (ms)."""
    from app.db import close_orm, init_orm
    from app.services import reads
    from app.services.reads import EventFilter
    from app.settings import Settings

    await init_orm(Settings(database_url=url, data_dir=data_dir))
    try:
        for name, text in QUERIES:
            f = EventFilter(search=text)
            first = await reads.list_events(1, filter=f)
            cases = {
                "newest, page 1": lambda f=f: reads.list_events(1, filter=f),
                "newest, page 2": lambda f=f, c=first.end_cursor: reads.list_events(
                    1, filter=f, after=c
                ),
                "best match": lambda f=f: reads.list_events(1, filter=f, order="best"),
            }
            for case, call in cases.items():
                times = []
                for n in range(runs + 2):
                    started = time.perf_counter()
                    page = await call()
                    if n >= 2:
                        times.append((time.perf_counter() - started) * 1000)
                times.sort()
                p90 = times[int(len(times) * 0.9) - 1]
                median = statistics.median(times)
                print(f"{name:28} {case:15} {len(page.items):3} rows  median "
                      f"{median:7.1f} ms  p90 {p90:7.1f} ms", flush=True)  # fmt: skip
    finally:
        await close_orm()


def main(argv: list[str] | None = None) -> int:
    """Seed, then measure."""
    args = parse_args(argv)
    data_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="search-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        url = prepare(args, data_dir)
        asyncio.run(measure(url, data_dir, args.runs))
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0
