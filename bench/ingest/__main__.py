"""`python bench/ingest`: the ingest benchmark (see cli.py for the options)."""

import sys
from pathlib import Path


def _main() -> int:
    # Run as a directory, only bench/ingest is on sys.path: add the repo root for `bench.ingest`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.ingest.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
