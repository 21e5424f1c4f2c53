"""Dashboard benchmark: every page and fragment's server time at 1,000,000 events (issue 20).

Run: .venv/bin/python -m bench.dashboard [--events 1000000] [--database sqlite|postgres|both]
         [--repeat 20] [--postgres-admin URL] [--concurrency 6]
     (or .venv/bin/python bench/dashboard; under `flock -x /work/wt/bench.lock` on a shared
     machine)

1. Seeds --events events over the last 30 days into a throwaway database (SQLite in a temp
   directory; PostgreSQL: a new database made from --postgres-admin, dropped after) through an
   in-process Ingestor, the batch API's write path with rollups: batches of 1000 with
   `log_events`, feedback on ~30% with `add_feedback`, several batches in flight, its commit
   clock moving through the month (bench/dashboard/data.py: sessions of 10 events, ~1,000 end
   users, models, statuses, tags, a common and a rare word). Prints the seeding time.
2. Serves it (`phospho serve`, JSON access log) and times every row of bench/dashboard/pages.py
   (THE url table: add new pages and fragments there) --repeat times, round robin, signed in.
   The time is the server's own (`duration_ms` of its access line, matched by X-Request-ID);
   the client's time on loopback is printed beside it, with GET /api/v1/health as reference.
   PostgreSQL: autovacuum is off for the bench database, the pages are timed right after the
   load (no statistics), then after ANALYZE (as an operator would after a bulk load).
3. Prints a table per run: median and p95, status and bytes, each page over 50 ms flagged.

Not a test: figures depend on the machine (`uptime` is printed beside each table).
"""

import sys
from pathlib import Path


def _main() -> int:
    # Run as a directory, only bench/dashboard is on sys.path: add the repo root for `bench`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.dashboard.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
