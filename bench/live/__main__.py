"""`python -m bench.live [--postgres ADMIN_URL] [--full]`: the live fan-out benchmark.

A real `phospho serve` (pinned to core 0; SQLite, or a throwaway PostgreSQL database) takes
single events POSTed at a fixed rate while N subscribers follow them: GraphQL `eventLogged`
over `graphql-transport-ws`, or the dashboard's events stream (SSE, signed in). For each
subscriber kind and count: the time from each 201 to each delivery (p50/p95/p99/max, pooled
over subscribers), events never delivered (missed), delivered twice, resyncs, and server CPU
per delivered event, against the same load with no subscriber measured in the same run.
"""

import sys
from pathlib import Path


def _main() -> int:
    # Run as a directory (`python bench/live`), only bench/live is on sys.path.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.live.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
