"""Command line of `python -m bench.retention` (the usage is in __main__.py)."""

from __future__ import annotations

import argparse
import os
from statistics import median

from bench.retention.run import RunResult, log, run_once


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.retention")
    parser.add_argument("mode", nargs="?", default="sweep", choices=["sweep", "space"])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0, help="single-event POSTs a second")
    parser.add_argument("--chunk", type=int, default=40, help="events per chunk")
    parser.add_argument("--pause-factor", type=float, default=5.0)
    parser.add_argument("--after", type=float, default=20.0, help="seconds measured after")
    parser.add_argument("--days", type=int, default=12, help="space: simulated days")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.mode == "space":
        from bench.retention.space import main as space_main

        return space_main(args.days)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    results: list[RunResult] = []
    for number in range(args.runs):
        log(f"run {number + 1} of {args.runs}")
        results.append(run_once(args.events, args.rate, args.chunk, args.pause_factor, args.after))
        _print_run(number + 1, results[-1])
    _print_summary(results)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


def _print_run(number: int, result: RunResult) -> None:
    print(f"\nrun {number}: {result.events:,} expired events, chunk {result.chunk}, "
          f"pause factor {result.pause_factor:g}")  # fmt: skip
    print(f"  {'phase':<18}{'requests':>9}{'failed':>8}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'p99 (5 s slices, median) ms':>30}")  # fmt: skip
    for phase in result.phases:
        print(f"  {phase.name:<18}{phase.requests:>9}{phase.failed:>8}{phase.p50_ms:>9.2f}"
              f"{phase.p99_ms:>9.2f}{phase.p99_slices_ms:>30.2f}")  # fmt: skip
    print(f"  sweep: {result.sweep_seconds:.1f} s, {result.deleted_per_s:,.0f} events deleted/s")
    for label, (size, pages, free) in (
        ("before", result.size_before),
        ("after", result.size_after),
    ):
        print(f"  file {label} the sweep: {size / 1e6:.1f} MB, {pages} pages, {free} free")


def _print_summary(results: list[RunResult]) -> None:
    def ratio(result: RunResult, which: str) -> float:
        before, during, after = result.phases
        reference = median([getattr(before, which), getattr(after, which)])
        return getattr(during, which) / reference if reference else 0.0

    print(f"\nsummary: medians of {len(results)} run(s)")
    print(f"  sweep time: {median(r.sweep_seconds for r in results):.1f} s; "
          f"deleted: {median(r.deleted_per_s for r in results):,.0f} events/s")  # fmt: skip
    for name, index in (("before", 0), ("during", 1), ("after", 2)):
        p99 = median(r.phases[index].p99_ms for r in results)
        sliced = median(r.phases[index].p99_slices_ms for r in results)
        failed = sum(r.phases[index].failed for r in results)
        print(f"  ingest p99 {name:<7} the sweep: {p99:7.2f} ms pooled, {sliced:7.2f} ms "
              f"(5 s slices), {failed} failed")  # fmt: skip
    pooled = median(ratio(r, "p99_ms") for r in results)
    sliced = median(ratio(r, "p99_slices_ms") for r in results)
    verdict = "PASS" if sliced <= 1.5 else "FAIL"
    print(f"  p99 during / without (the median of before and after): {pooled:.2f}x pooled, "
          f"{sliced:.2f}x by slices  [{verdict}: target <= 1.5x]")  # fmt: skip
