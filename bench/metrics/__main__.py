"""Metrics benchmark: the overview's server time on a month of history, and what rollups cost
the write path (issue 5).

Run: .venv/bin/python -m bench.metrics [--events 1000000] [--postgres ADMIN_URL]
         [--foundation REV] [--wrk-seconds 3] [--wrk-reps 15] [--no-http] [--quick]
     (or .venv/bin/python bench/metrics; --help lists every option)

1. Seeds --events events (default 1,000,000) over the last 30 days into a throwaway SQLite
   database (or a new PostgreSQL database made from ADMIN_URL, e.g.
   postgres://postgres@127.0.0.1:5432/postgres), through an in-process Ingestor: batches of
   1000 with log_events, several in flight, its `clock` advancing through the month; feedback
   on ~3% of events. Prints the seeding throughput. PostgreSQL is then VACUUM ANALYZEd, as
   autovacuum would have done on a running server.
2. Times `metrics(project, window_for_range("24h" | "30d"), GroupBy.MODEL)` (median and p95)
   against the same figures computed from the raw events table, cross-checks the two, and
   prints PASS/FAIL against 150 ms. Then serves the database and times the overview over HTTP
   (paths that do not answer 200 are reported, not timed).
3. Ingest throughput in the same run: in-process log_events rounds with rollups on vs off
   (Ingestor(rollups=False)), with the process's CPU time per event, and wrk (needs
   `apt-get install wrk`) against this tree's `phospho serve`, the foundation's (--foundation
   REV, default 9ceb99b: the commit before cost and rollups, unpacked with git archive) and
   this tree's with rollups off, with bench/ingest's bodies (the workload of the foundation's
   own figure) and with this benchmark's. Each server is warmed up once per case, then each of
   --wrk-reps repetitions runs the servers back to back for --wrk-seconds; the ratio is the
   median of the per-repetition ratios (the machine's speed drifts within seconds, and a pair
   close in time drifts together), printed with the server's CPU time per event. PASS when
   the ratio >= 0.90.

Progress goes to stderr, the report to stdout. Not a test: figures depend on the machine.
"""

import sys
from pathlib import Path


def _main() -> int:
    # Run as a directory, only bench/metrics is on sys.path: add the repo root for `bench`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.metrics.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
