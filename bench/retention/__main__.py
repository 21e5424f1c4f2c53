"""Retention benchmark (issue 19): how long a sweep of 1,000,000 expired events takes on
SQLite, and what it does to single-event ingest latency meanwhile.

Run (on a quiet machine):
    .venv/bin/python -m bench.retention [--events 1000000]
        [--runs 2] [--rate 200] [--chunk 40] [--pause-factor 5] [--after 20]
    .venv/bin/python -m bench.retention space [--days 12]

Each run: a throwaway SQLite database gets `--events` events 10 to 40 days old, bulk-inserted
(with sessions, end users, tags on 10% and feedback on 3%). A real `phospho serve` starts with
PHOSPHO_RETENTION_DAYS=7; its sweeper's first pass comes 25 s after start. An open-loop
load of single-event POSTs (`--rate` a second over 16 keep-alive connections, latency from
each request's due time) runs from start until `--after` s past the sweep's end, which a
reader sees by the oldest event's time. Ingest latency is reported before, during and after
the sweep (the reference: the same server, same load, same run, without a sweep): p50,
pooled p99, and the median of the p99s of 5-second slices; failures (any non-201, such as a
503) are counted. Then the sweep's time, events deleted a second, and the file's size and
free pages before and after (freed pages go to SQLite's freelist; the file does not shrink).

`space`: under steady ingest with a full window the file stops growing (bench/retention/space.py).
Progress goes to stderr, the report to stdout. Not a test: figures depend on the machine.
"""

import sys
from pathlib import Path


def _main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.retention.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
