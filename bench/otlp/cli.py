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


def _bodies(args: argparse.Namespace, run_id: int, r: int) -> tuple[list[bytes], list[bytes]]:
    """Round `r`'s exports and their REST twins, encoded just before the round (off the clock),
    so its spans are a few seconds old when posted, as with a BatchSpanProcessor's 5 s delay."""
    now = time.time_ns()
    numbers = range(r * args.exports, (r + 1) * args.exports)
    otlp = [payload.export(run_id, n, now) for n in numbers]
    return otlp, [payload.rest_batch(run_id, n) for n in numbers]


def _measure(args: argparse.Namespace, data_dir: Path) -> list[tuple[Round, Round]]:
    """Warm-up, then `rounds` pairs (OTLP then batch, order swapped every other pair)."""
    run_id = int(time.time())
    events = args.exports * payload.LLM_PER_EXPORT
    server = phospho_server(data_dir, data_dir)
    server.start()
    pairs: list[tuple[Round, Round]] = []
    try:
        key = create_key(data_dir)
        for r in range(args.rounds + 1):
            by_route: dict[str, Round] = {}
            otlp, rest = _bodies(args, run_id, r)  # round 0 warms both routes up
            for route in ("otlp", "rest") if r % 2 else ("rest", "otlp"):
                before, cpu = stored_events(data_dir), cpu_seconds(server.pid)
                bodies = otlp if route == "otlp" else rest
                by_route[route] = post_round(server.port, key, route, bodies, events, args.clients)
                by_route[route].cpu_seconds = cpu_seconds(server.pid) - cpu
                stored = stored_events(data_dir) - before
                if stored != events:
                    raise RuntimeError(f"{route}: {stored} events stored for {events} posted")
            if r:
                pairs.append((by_route["otlp"], by_route["rest"]))
    finally:
        server.stop()
    return pairs


def report(args: argparse.Namespace, pairs: list[tuple[Round, Round]]) -> bool:
    """Print medians and the targets; True when both are met."""
    otlp = statistics.median(o.events_per_s for o, _ in pairs)
    rest = statistics.median(r.events_per_s for _, r in pairs)
    ratio = statistics.median(o.events_per_s / r.events_per_s for o, r in pairs)
    spans = otlp * payload.SPANS_PER_EXPORT / payload.LLM_PER_EXPORT
    print(
        f"phospho OTLP benchmark: {args.clients} clients, {args.exports} exports of "
        f"{payload.SPANS_PER_EXPORT} spans ({payload.LLM_PER_EXPORT} LLM) per round, medians of "
        f"{len(pairs)} interleaved pairs; SQLite (synchronous=FULL), server on core 0"
    )
    for o, r in pairs:
        print(f"  pair: otlp {o.events_per_s:6.0f} ev/s, {o.cpu_us_per_event:4.0f} us CPU/ev, "
              f"{o.refused} refused | batch {r.events_per_s:6.0f} ev/s, "
              f"{r.cpu_us_per_event:4.0f} us CPU/ev, {r.refused} refused")  # fmt: skip
    print(f"POST /v1/traces (protobuf):   {otlp:8.0f} stored events/s = LLM spans/s "
          f"({spans:.0f} spans/s in all)")  # fmt: skip
    print(f"POST /api/v1/events/batch:    {rest:8.0f} stored events/s (same events, same run)")
    cpu_otlp = statistics.median(o.cpu_us_per_event for o, _ in pairs)
    cpu_rest = statistics.median(r.cpu_us_per_event for _, r in pairs)
    print(f"server CPU per stored event:  {cpu_otlp:8.0f} us OTLP, {cpu_rest:.0f} us batch")
    ok_ratio, ok_rate = ratio >= TARGET_RATIO, otlp >= TARGET_LLM_SPANS_PER_S
    print(f"ratio OTLP / batch:           {ratio:8.2f}x   target >= {TARGET_RATIO}x: "
          f"{'PASS' if ok_ratio else 'FAIL'}")  # fmt: skip
    print(f"LLM spans stored per second:  {otlp:8.0f}   target >= {TARGET_LLM_SPANS_PER_S}: "
          f"{'PASS' if ok_rate else 'FAIL'}")  # fmt: skip
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return ok_ratio and ok_rate


def main(argv: list[str] | None = None) -> int:
    """Run and print; 0 when both targets are met, 1 otherwise."""
    args = parse_args(argv)
    os.sched_setaffinity(0, {1 if (os.cpu_count() or 1) > 1 else 0})  # the server has core 0
    with tempfile.TemporaryDirectory(prefix="bench-otlp-") as tmp:
        pairs = _measure(args, Path(tmp))
    passed = report(args, pairs)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"otlp-{time.strftime('%Y%m%d-%H%M%S')}.json"
    raw = [{**vars(o), "pair": n} for n, pair in enumerate(pairs) for o in pair]
    path.write_text(json.dumps({"options": vars(args), "rounds": raw, "passed": passed}, indent=1))
    print(f"raw figures: {path}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
