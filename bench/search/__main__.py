"""`python bench/search`: text search at 1,000,000 events, SQLite and PostgreSQL.

    .venv/bin/python bench/search [--events N] [--postgres ADMIN_URL] [--runs 15] [--keep DIR]

Seeds a migrated database in bulk with bench/export's events (straight SQL through the search
index's triggers on SQLite, COPY through the GIN index on PostgreSQL), then times the read
service (`reads.list_events`: its SQL and the rows made into views) for a rare word (one
event), a common word (every event), a prefix, a two-word query, newest first (first page
and a later page) and best match. Prints the median and p90 of each in milliseconds.
"""

import sys
from pathlib import Path


def _main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.search.run import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
