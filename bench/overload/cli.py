"""Command line of `python -m bench.overload` (the load model is in __main__.py)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench.ingest.procs import REPO
from bench.overload import report
from bench.overload.runner import MIXES, Options, log, run_mix

RESULTS_DIR = REPO / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options; --quick shortens every phase for a smoke run."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.overload",
        description="Open-loop overload of `phospho serve` (SQLite) at 2x and 10x its capacity.",
    )
    parser.add_argument("--mix", choices=[*MIXES, "both"], default="both")
    parser.add_argument("--seconds", type=float, default=20.0, help="each overload phase")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 s phases")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.connections < 1:
        parser.error("--seconds must be > 0 and --connections >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run each mix, print its table and the targets; 1 when a 2xx was not stored."""
    args = parse_args(argv)
    if shutil.which("taskset") is None:
        print(
            "error: taskset (util-linux) is needed to pin the server and the load", file=sys.stderr
        )
        return 2
    options = Options(seconds=args.seconds, connections=args.connections)
    if args.quick:
        options = Options(seconds=4, capacity_seconds=3, unloaded_seconds=3, settle_seconds=2,
                          connections=args.connections)  # fmt: skip
    mixes = list(MIXES) if args.mix == "both" else [args.mix]
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    for name in mixes:
        results.append(report.figures(run_mix(MIXES[name], options)))
    print(
        f"phospho overload benchmark: server (SQLite) on core 0, load generator and health "
        f"prober on core 1; {options.connections} pipelined connections, open loop; "
        f"{options.seconds:g} s per overload phase; run time {time.monotonic() - started:.0f} s"
    )
    lost = False
    for fig in results:
        print("\n" + report.table(fig))
        for target, passed, figure in report.verdicts(fig):
            print(f"  {'PASS' if passed else 'FAIL'}  {target}: {figure}")
            lost |= target.endswith("every 2xx stored") and not passed
    print(f"\nmachine: {os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.2f}")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"overload-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    log(f"raw figures: {path}")
    return 1 if lost else 0
