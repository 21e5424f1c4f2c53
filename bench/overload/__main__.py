"""Overload benchmark: `phospho serve` driven past its capacity, open loop (issue 17).

Run: .venv/bin/python -m bench.overload [--mix single|batch|both] [--seconds 20] [--quick]
     (about 3 minutes for both mixes with the defaults; --quick: about 1 minute)

The load model, precisely:
- One `phospho serve` with a fresh embedded SQLite database per mix, pinned to core 0 with
  taskset (its SQLite writer thread too); default settings. The load generator
  (bench/overload/loadgen.py, Python + uvloop) and the health prober run on core 1.
- 64 keep-alive HTTP/1.1 connections, opened before the clock starts and kept for the phase.
  Requests are pipelined: request i is written to connection i mod 64 the moment it is due,
  whatever that connection still waits for (writes are gathered once per millisecond).
- Open loop: request i is due at start + i / rate, evenly spaced (no randomness, so runs
  repeat); nothing the server does slows the arrivals. A connection with 20,000 unanswered
  requests takes no more (counted as "not sent"); it never happened in our runs.
- Latency is counted from the due time to the last byte of the answer, so time spent queued
  in the generator, in the kernel's socket buffers or in the server all counts (no
  coordinated omission). "Accepted" means answered 2xx.
- Each request carries its own event ids, so every 2xx is looked up in the database after the
  server has stopped ("every 2xx stored"; events stored without an answer are reported too).
- Phases, all in the same run against the same server: warm-up (3 s closed loop); capacity =
  the 2xx rate of a closed loop without pipelining (10 s) over as many connections as the
  server admits at once by default (single: 64; batch: 8, ~720 KB of bodies), so that no
  request is refused while capacity is measured (the refusals are printed); unloaded
  = open loop at 0.1x capacity (10 s), the reference for p50/p99; then 2x and 10x capacity,
  open loop, 20 s each, each followed by 5 s of rest. The loaded steady-state RSS is the
  median over the second half of the capacity phase; "after" is the median over the last
  second of each rest.
- The health prober opens a new connection every 50 ms (as a load balancer does), GETs
  /api/v1/health, and times the answer; its maximum over each overload phase is reported.

The request mix is run twice, deliberately: `single` (one ~900-byte event per request: the
case where per-request work, and so the cost of refusing, weighs most against capacity) and
`batch` (100 events per request, as the SDKs' background mode sends at volume: refusals are
cheap next to the work of one request, but each one still carries ~90 KB of body to read).

Each overload phase prints offered and goodput rates, p50/p99 of accepted requests, the
number refused, the server's CPU per answer, RSS peak and after, the health maximum, and a
PASS/FAIL line per target of issue 17. Not a test: figures depend on the machine, and on
other load on it (the load average at the end is printed).
"""

import sys
from pathlib import Path


def _main() -> int:
    # Run as a directory, only bench/overload is on sys.path: add the repo root for `bench`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.overload.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
