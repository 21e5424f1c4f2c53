"""Command line of `python -m bench.scaleout` (what it measures: __main__.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ingest.payload import single_bodies
from bench.ingest.wrkrun import run_wrk, write_load
from bench.metrics.seed import _create_pg_database, _drop_pg_database
from bench.scaleout import live
from bench.scaleout.servers import (
    Serve,
    backend_pids,
    cpu_of,
    machine_busy,
    prepare,
)

TARGET_RATIO = 1.6  # 2 workers against 1, where the machine has the cores (issue 22)
TARGET_P99_MS = 50.0  # cross-process delivery


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options; --quick is a smoke run."""
    parser = argparse.ArgumentParser(prog="python -m bench.scaleout")
    parser.add_argument("--postgres", metavar="ADMIN_URL", required=True,
                        help="a database is made next to this one, dropped after")  # fmt: skip
    parser.add_argument("--workers", default="1,2,4", help="worker counts (default 1,2,4)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections, in all")
    parser.add_argument("--seconds", type=int, default=10, help="each measured wrk run")
    parser.add_argument("--runs", type=int, default=2, help="rounds over the worker counts")
    parser.add_argument("--rate", type=int, default=500, help="live: events/s posted to B")
    parser.add_argument("--live-seconds", type=float, default=20, help="live: how long")
    parser.add_argument("--quick", action="store_true", help="smoke run: short and one round")
    args = parser.parse_args(argv)
    args.workers = [int(n) for n in args.workers.split(",")]
    if args.quick:
        args.seconds, args.runs, args.live_seconds = 3, 1, 3
    return args


def log(*parts: object) -> None:
    """Progress, on stderr."""
    print(*parts, file=sys.stderr, flush=True)


def ingest_run(
    url: str, key: str, workers: int, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """One wrk run against `phospho serve --workers N`: events/s, latency, CPU per event."""
    srv = Serve(url, work / "data", work / f"serve-{workers}.log", workers=workers)
    srv.start()
    try:
        load = write_load(work, "single", "/api/v1/events", key, single_bodies())
        run_wrk(srv.base_url, load, args.connections, 2)  # warm-up: pools open, caches hot
        servers, backends = srv.pids(), backend_pids(url)
        cpu_before = (cpu_of(servers), cpu_of(backends), machine_busy())
        figures = run_wrk(srv.base_url, load, args.connections, args.seconds)
        busy, total = machine_busy()
        server_cpu = cpu_of(servers) - cpu_before[0]
        pg_cpu = cpu_of(backends) - cpu_before[1]
    finally:
        srv.stop()
    events = figures["ok_requests"]
    return {
        "workers": workers, "events_s": figures["events_s"], "non2xx": figures["non2xx"],
        "p50_ms": figures["p50_us"] / 1000, "p99_ms": figures["p99_us"] / 1000,
        "server_us": 1e6 * server_cpu / max(events, 1), "pg_us": 1e6 * pg_cpu / max(events, 1),
        "busy": (busy - cpu_before[2][0]) / max(total - cpu_before[2][1], 1),
    }  # fmt: skip


def live_run(url: str, key: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Two separate servers on the database; subscriber on A, events posted to B."""
    a = Serve(url, work / "data", work / "live-a.log")
    b = Serve(url, work / "data", work / "live-b.log")
    a.start()
    b.start()
    try:
        return asyncio.run(live.measure(a.base_url, b.port, key, args.rate, args.live_seconds))
    finally:
        a.stop()
        b.stop()


def median_by_workers(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The median of each figure per worker count, in the order first run."""
    out = []
    for workers in dict.fromkeys(run["workers"] for run in runs):
        chosen = [run for run in runs if run["workers"] == workers]
        out.append({k: statistics.median(run[k] for run in chosen) for k in chosen[0]})
    return out


def table(lines: list[dict[str, Any]], delivery: dict[str, Any], args: argparse.Namespace) -> str:
    """The printed report."""
    base = lines[0]["events_s"] or 1.0
    out = [
        f"bench/scaleout: PostgreSQL, {os.cpu_count()} cores, wrk -c{args.connections} (pinned "
        f"to core 1) single events, {args.seconds} s x {args.runs} rounds, medians",
        "",
        "workers | events/s | vs 1 | p50 ms | p99 ms | server CPU µs/ev | PG backends µs/ev "
        "| machine busy | non-2xx",
    ]
    for line in lines:
        out.append(
            f"{int(line['workers']):>7} | {line['events_s']:>8,.0f} | "
            f"{line['events_s'] / base:4.2f}x | {line['p50_ms']:6.2f} | {line['p99_ms']:6.2f} | "
            f"{line['server_us']:>16,.0f} | "
            f"{line['pg_us']:>17,.0f} | {100 * line['busy']:>11.0f}% | {line['non2xx']:>7.0f}"
        )
    two = next((line for line in lines if line["workers"] == 2), None)
    if two is not None:
        out.append(f"2 workers / 1 worker: {two['events_s'] / base:.2f}x "
                   f"(target {TARGET_RATIO}x where the machine has the cores)")  # fmt: skip
    d = delivery
    out += [
        "",
        f"live across processes: subscriber on A, {args.rate} events/s posted to B for "
        f"{args.live_seconds:.0f} s (achieved {d['rate']:.0f}/s)",
        "posted | delivered | missed | duplicates | p50 ms | p95 ms | p99 ms | max ms "
        "(201 -> delivery)",
        f"{d['posted']:>6} | {d['delivered']:>9} | {d['missed']:>6} | {d['duplicates']:>10} | "
        f"{d['p50_ms']:6.2f} | {d['p95_ms']:6.2f} | {d['p99_ms']:6.2f} | {d['max_ms']:6.2f}",
        f"cross-process p99 {d['p99_ms']:.1f} ms (target <= {TARGET_P99_MS:.0f} ms); "
        f"missed {d['missed']} (must be 0); post errors {d['errors']}",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run everything; print the table on stdout."""
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="phospho-scaleout-"))
    url = _create_pg_database(args.postgres)
    try:
        key = prepare(url, work / "data")
        runs = []
        for rnd in range(args.runs):
            for workers in args.workers:
                started = time.monotonic()
                runs.append(ingest_run(url, key, workers, args, work))
                log(f"round {rnd + 1}, {workers} workers: {runs[-1]['events_s']:,.0f} ev/s "
                    f"({time.monotonic() - started:.0f} s)")  # fmt: skip
        log("live delivery across processes ...")
        delivery = live_run(url, key, args, work)
        print(table(median_by_workers(runs), delivery, args))
    except Exception:
        for path in sorted(work.glob("*.log")):
            log(f"--- {path.name}:\n" + "\n".join(path.read_text().splitlines()[-15:]))
        raise
    finally:
        _drop_pg_database(args.postgres, url)
        shutil.rmtree(work, ignore_errors=True)
    return 0
