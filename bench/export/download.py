"""`python -m bench.export.download URL KEY`: download an export, count its lines; prints
`rows bytes seconds` (a process of its own, so that the ingest client's timing shares no GIL)."""

from __future__ import annotations

import sys
import time

import httpx


def main() -> int:
    """Stream the export to nowhere."""
    url, key = sys.argv[1], sys.argv[2]
    rows = size = 0
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream("GET", url, headers=headers, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(1 << 20):
            rows += chunk.count(b"\n")
            size += len(chunk)
    print(rows, size, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
