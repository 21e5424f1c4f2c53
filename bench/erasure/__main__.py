"""Erasure benchmark: erase an end user with 100,000 events among 1,000,000 (issue 19).

Run: .venv/bin/python -m bench.erasure [--events 1000000] [--postgres ADMIN_URL]
         [--no-check] [--probe-rate 200]
     (or .venv/bin/python bench/erasure; --help lists every option)

1. Seeds --events events (default 1,000,000) over the last 30 days into a throwaway SQLite
   database (or a new PostgreSQL database made from ADMIN_URL) through an in-process Ingestor
   (bench/metrics' seeding: batches of 1000, feedback on ~3%, its realistic event mix). Four
   end users `erase-target-0..3` hold 10% of the events each (100,000 of 1,000,000), in
   sessions of their own; the rest belong to ~2,000 other users. Minutes and hours of the
   history are folded on SQLite, the last ones are not.
2. Erases targets 0, 1 and 2 in turn through the write path (`forget_end_user`: one
   MaintenanceJob, one transaction) and times each (median of the three). Meanwhile a probe
   logs single events (`log_event`) at --probe-rate per second; its latency p50/p99/max are
   printed during each erasure against the same probe for 3 s just before it (the baseline):
   informative, since ingest waits for the erasure's transaction.
3. Checks the result (unless --no-check): no row names the erased users, and every rollup row
   equals what `phospho rollups rebuild` then computes (rows and histogram bins of zero aside).
4. The reference, measured in the same run: deleting target 3's rows the way retention does
   (`deletion.delete_events`, no rollup subtraction), as a MaintenanceJob; the ratio says what
   the exact subtraction costs on top of the deletion itself.

Progress goes to stderr, the report to stdout. Not a test: figures depend on the machine.
"""

import sys
from pathlib import Path


def _main() -> int:
    # Run as a directory, only bench/erasure is on sys.path: add the repo root for `bench`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.erasure.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
