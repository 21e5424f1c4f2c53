"""Command line of `python -m bench.otlp` (see __main__.py for what it measures)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.ingest.procs import create_key, phospho_server
from bench.otlp import payload
from bench.otlp.runner import Round, post_round, stored_events

TARGET_RATIO = 0.7
TARGET_LLM_SPANS_PER_S = 5_000


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


def _bodies(args: argparse.Namespace, run_id: int) -> tuple[list[list[bytes]], list[list[bytes]]]:
    """Every round's exports and their REST twins, encoded before the clock starts."""
    now = time.time_ns()
    otlp, rest = [], []
    for r in range(args.rounds + 1):  # round 0 warms both routes up
        numbers = range(r * args.exports, (r + 1) * args.exports)
        otlp.append([payload.export(run_id, n, now) for n in numbers])
        rest.append([payload.rest_batch(run_id, n) for n in numbers])
    return otlp, rest


def _measure(args: argparse.Namespace, data_dir: Path) -> list[tuple[Round, Round]]:
    """Warm-up, then `rounds` pairs (OTLP then batch, order swapped every other pair)."""
    otlp, rest = _bodies(args, run_id=int(time.time()))
    events = args.exports * payload.LLM_PER_EXPORT
    server = phospho_server(data_dir, data_dir)
    server.start()
    pairs: list[tuple[Round, Round]] = []
    try:
        key = create_key(data_dir)
        for r in range(args.rounds + 1):
            by_route: dict[str, Round] = {}
            for route in ("otlp", "rest") if r % 2 else ("rest", "otlp"):
                before = stored_events(data_dir)
                bodies = otlp[r] if route == "otlp" else rest[r]
                by_route[route] = post_round(server.port, key, route, bodies, events, args.clients)
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
        print(f"  round: otlp {o.events_per_s:8.0f} ev/s ({o.refused} refused)   "
              f"batch {r.events_per_s:8.0f} ev/s ({r.refused} refused)")  # fmt: skip
    print(f"POST /v1/traces (protobuf):   {otlp:8.0f} stored events/s = LLM spans/s "
          f"({spans:.0f} spans/s in all)")  # fmt: skip
    print(f"POST /api/v1/events/batch:    {rest:8.0f} stored events/s (same events, same run)")
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
    return 0 if report(args, pairs) else 1


if __name__ == "__main__":
    sys.exit(main())
