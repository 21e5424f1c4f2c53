"""Command line of `python bench/ingest`."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench.ingest import report
from bench.ingest.procs import REPO
from bench.ingest.runner import Options, run
from bench.ingest.wrkrun import WrkMissing

RESULTS_DIR = REPO / "bench" / "results"


def _connections(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("expected numbers separated by commas") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("connection counts must be >= 1")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options; --quick shortens everything for a smoke run."""
    parser = argparse.ArgumentParser(
        prog="python bench/ingest",
        description="Ingest benchmark: phospho (SQLite, synchronous=FULL) vs a reference "
        "FastAPI app that stores nothing, loaded with wrk.",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each run")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--connections", type=_connections, default=(1, 16, 64))
    parser.add_argument("--batch-connections", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 rep of 2 s runs")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="then profile both servers with py-spy during one more 16-connection run each",
    )
    parser.add_argument("--profile-seconds", type=int, default=20, help="sampling time per server")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="only measure what SQLite alone costs per event under the schema (floor.py)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="run phospho on a throwaway PostgreSQL database made from this admin URL "
        "(PostgreSQL's own processes are not pinned to the servers' core)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.reps, args.profile_seconds = 2, 1, 1, 5
    if args.duration < 1 or args.reps < 1 or args.warmup < 0:
        parser.error("--duration and --reps must be >= 1, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, write the JSON; 2 when wrk is missing, 1 when events were lost."""
    args = parse_args(argv)
    if args.floor:
        return _floor(args.postgres)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    profile = args.results_dir / f"ingest-{stamp}-profile.txt" if args.profile else None
    options = Options(
        duration=args.duration,
        warmup=args.warmup,
        reps=args.reps,
        connections=args.connections,
        batch_connections=args.batch_connections,
        profile=profile,
        profile_seconds=args.profile_seconds,
        postgres=args.postgres,
    )
    try:
        result = run(options)
    except WrkMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines = report.summarise(result["runs"])
    header = (
        f"phospho ingest benchmark: medians of {options.reps} interleaved run(s) of "
        f"{options.duration} s; servers on core 0, wrk (1 thread) on core 1; "
        + (
            "PostgreSQL (its backends unpinned)"
            if args.postgres
            else "SQLite WAL + synchronous=FULL"
        )
    )
    print(report.table(lines, result["durability"], header))
    print(report.noise_line(result["runs"]))
    if "profile" in result:
        from bench.ingest.profiling import describe

        print("\n" + describe(result["profile"]))
    result.update(
        options={**asdict(options), "profile": str(profile) if profile else None},
        summary=lines,
        machine={
            "cpus": os.cpu_count(),
            "loadavg_at_end": os.getloadavg(),
            "python": sys.version,
            "platform": platform.platform(),
        },
    )
    path = report.write_json(result, args.results_dir, stamp)
    print(f"\nraw figures: {path}")
    return 0 if result["durability"]["all_acknowledged_stored"] else 1


def _floor(admin_url: str | None) -> int:
    """--floor: the table of floor.py (PostgreSQL's with --postgres), in a scratch directory."""
    import shutil
    import tempfile

    from bench.ingest import floor

    workdir = Path(tempfile.mkdtemp(prefix="phospho-floor-"))
    try:
        if admin_url is not None:
            print(floor.describe(floor.measure_postgres(workdir, admin_url), "PostgreSQL"))
        else:
            print(floor.describe(floor.measure(workdir)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
