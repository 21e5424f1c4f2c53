"""Command line of `python -m bench.otlp` (see __main__.py for what it measures)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.ingest.procs import REPO, cpu_seconds, create_key, phospho_server
from bench.otlp import payload
from bench.otlp.runner import Round, post_round, stored_events

TARGET_RATIO = 0.7
TARGET_LLM_SPANS_PER_S = 5_000
RESULTS_DIR = REPO / "bench" / "results"
# Export i of a round holds spans 40 ms later than export i-1, as an exporter's successive
# exports carry successive spans (about a round's duration over its exports). With one time
# for all, 32 exports posted together held interleaved times, scattering every commit's rows
# over the time-ordered indexes (~16 us CPU an event more: bench of 13:13 UTC, s27/perf).
STAGGER_NS = 40_000_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options; --quick is a smoke run."""
    parser = argparse.ArgumentParser(prog="python -m bench.otlp", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved pairs of rounds")
    parser.add_argument("--exports", type=int, default=32, help="512-span exports per round")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive clients")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 8 exports")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.exports = 2, 8
    if min(args.rounds, args.exports, args.clients) < 1:
        parser.error("--rounds, --exports and --clients must be >= 1")
    return args


ROUTES = ("otlp", "rest", "minimal")  # OTLP, its same-rows REST twin, the minimal REST twin


def _bodies(args: argparse.Namespace, run_id: int, r: int) -> dict[str, list[bytes]]:
    """Round `r`'s exports and their REST twins, encoded just before the round (off the clock),
    so its spans are a few seconds old when posted, as with a BatchSpanProcessor's 5 s delay;
    each export's spans STAGGER_NS later than the one before."""
    now = time.time_ns()
    numbers = range(r * args.exports, (r + 1) * args.exports)
    last = len(numbers) - 1
    otlp = [payload.export(run_id, n, now - (last - i) * STAGGER_NS) for i, n in enumerate(numbers)]
    return {
        "otlp": otlp,
        "rest": [payload.same_rows(body) for body in otlp],
        "minimal": [payload.rest_batch(run_id, n) for n in numbers],
    }


def _measure(args: argparse.Namespace, data_dir: Path) -> list[dict[str, Round]]:
    """Warm-up, then `rounds` sets of one round per route (their order rotated every set)."""
    run_id = int(time.time())
    events = args.exports * payload.LLM_PER_EXPORT
    server = phospho_server(data_dir, data_dir)
    server.start()
    sets: list[dict[str, Round]] = []
    try:
        key = create_key(data_dir)
        for r in range(args.rounds + 1):
            by_route: dict[str, Round] = {}
            bodies = _bodies(args, run_id, r)  # round 0 warms every route up
            for route in ROUTES[r % 3 :] + ROUTES[: r % 3]:
                before, cpu = stored_events(data_dir), cpu_seconds(server.pid)
                by_route[route] = post_round(
                    server.port, key, route, bodies[route], events, args.clients
                )
                by_route[route].cpu_seconds = cpu_seconds(server.pid) - cpu
                stored = stored_events(data_dir) - before
                if stored != events:
                    raise RuntimeError(f"{route}: {stored} events stored for {events} posted")
            if r:
                sets.append(by_route)
    finally:
        server.stop()
    return sets


def _line(one: Round) -> str:
    return (f"{one.events_per_s:6.0f} ev/s {one.cpu_us_per_event:4.0f} us/ev"
            f"{f' {one.refused} refused' if one.refused else ''}")  # fmt: skip


def report(args: argparse.Namespace, sets: list[dict[str, Round]], load: float) -> bool:
    """Print medians and the targets; True when both are met."""
    rate = {route: statistics.median(s[route].events_per_s for s in sets) for route in ROUTES}
    cpu = {route: statistics.median(s[route].cpu_us_per_event for s in sets) for route in ROUTES}
    ratio = {
        twin: statistics.median(s["otlp"].events_per_s / s[twin].events_per_s for s in sets)
        for twin in ("rest", "minimal")
    }
    otlp = rate["otlp"]
    spans = otlp * payload.SPANS_PER_EXPORT / payload.LLM_PER_EXPORT
    print(
        f"phospho OTLP benchmark: {args.clients} clients, {args.exports} exports of "
        f"{payload.SPANS_PER_EXPORT} spans ({payload.LLM_PER_EXPORT} LLM) per round, medians of "
        f"{len(sets)} interleaved sets; SQLite (synchronous=FULL), server on core 0"
    )
    for s in sets:
        print(f"  otlp {_line(s['otlp'])} | same rows {_line(s['rest'])} | "
              f"minimal {_line(s['minimal'])}")  # fmt: skip
    print(f"POST /v1/traces (protobuf):   {otlp:8.0f} stored events/s = LLM spans/s "
          f"({spans:.0f} spans/s in all)")  # fmt: skip
    print(f"batch, same rows:             {rate['rest']:8.0f} stored events/s (same run)")
    print(f"batch, minimal events:        {rate['minimal']:8.0f} stored events/s (same run)")
    print(f"server CPU per stored event:  {cpu['otlp']:8.0f} us OTLP, {cpu['rest']:.0f} us "
          f"batch same rows, {cpu['minimal']:.0f} us batch minimal")  # fmt: skip
    ok_ratio, ok_rate = ratio["rest"] >= TARGET_RATIO, otlp >= TARGET_LLM_SPANS_PER_S
    print(f"ratio OTLP / same rows:       {ratio['rest']:8.2f}x   target >= {TARGET_RATIO}x: "
          f"{'PASS' if ok_ratio else 'FAIL'}")  # fmt: skip
    print(f"ratio OTLP / minimal:         {ratio['minimal']:8.2f}x   (for information)")
    print(f"LLM spans stored per second:  {otlp:8.0f}   target >= {TARGET_LLM_SPANS_PER_S}: "
          f"{'PASS' if ok_rate else 'FAIL'}")  # fmt: skip
    print(f"load average: {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    return ok_ratio and ok_rate


def main(argv: list[str] | None = None) -> int:
    """Run and print; 0 when both targets are met, 1 otherwise."""
    args = parse_args(argv)
    os.sched_setaffinity(0, {1 if (os.cpu_count() or 1) > 1 else 0})  # the server has core 0
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-otlp-") as tmp:
        sets = _measure(args, Path(tmp))
    passed = report(args, sets, load)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"otlp-{time.strftime('%Y%m%d-%H%M%S')}.json"
    raw = [{**vars(one), "set": n} for n, s in enumerate(sets) for one in s.values()]
    path.write_text(json.dumps({"options": vars(args), "rounds": raw, "passed": passed}, indent=1))
    print(f"raw figures: {path}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
