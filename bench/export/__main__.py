"""`python bench/export`: export 1,000,000 events as JSONL while single events are logged.

    .venv/bin/python bench/export [--events N] [--runs 3] [--quick]

Seeds a SQLite database in bulk (straight SQL: the write path is not what is measured), starts
`phospho serve` on it (pinned to core 0), then per run: single-event ingest at a fixed rate
alone (the reference), the same client at the same rate during a full JSONL export through
`GET /api/v1/events/export`. Prints rows/s, the server's RSS growth during the export
(/proc/<pid>/status VmRSS, sampled every 20 ms) and the ingest p99 of both, medians of the
runs. Options: see cli.py.
"""

import sys
from pathlib import Path


def _main() -> int:
    # Run as a directory, only bench/export is on sys.path: add the repo root for `bench.export`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.export.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
