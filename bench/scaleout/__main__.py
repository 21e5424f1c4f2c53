"""`python -m bench.scaleout --postgres ADMIN_URL [--quick]`: the scale-out benchmark.

Ingest: `phospho serve --workers N` for N = 1, 2, 4 in turn on one fresh PostgreSQL database,
the same wrk load each time (single events, the same total connection count); events/s, p99,
and CPU per event (the server's processes and the database's backends, from /proc). Live: two
`phospho serve` processes A and B, a GraphQL subscriber on A, events posted to B at a fixed
rate; the time from each 201 to its delivery, and the events never delivered.
"""

import sys
from pathlib import Path


def _main() -> int:
    # Run as a directory (`python bench/scaleout`), only bench/scaleout is on sys.path.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.scaleout.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
