"""`phospho rollups rebuild` on the seeded history: how long it takes, and that the overview
reads the same figures afterwards (what the command does, in-process, on the same backend)."""

from __future__ import annotations

import time

from app.services import rollups
from app.services.metrics import GroupBy, metrics, window_for_range
from app.services.write_backends import write_backend_for
from bench.metrics.seed import Database


async def time_rebuild(db: Database, project_id: int) -> str:
    """Rebuild every rollup (the ORM must be open); one report line."""
    windows = [window_for_range(name) for name in ("24h", "30d")]
    before = [await metrics(project_id, window, GroupBy.MODEL) for window in windows]
    backend = write_backend_for(db.url)
    await backend.open()
    try:
        started = time.perf_counter()
        report = await backend.run(lambda: rollups.rebuild(backend.dialect))
        seconds = time.perf_counter() - started
    finally:
        await backend.close()
    after = [await metrics(project_id, window, GroupBy.MODEL) for window in windows]
    same = all(
        (a.summary, a.previous, a.series, a.models) == (b.summary, b.previous, b.series, b.models)
        for a, b in zip(after, before, strict=True)
    )
    return (
        f"rollups rebuild: {report.events:,} events and {report.feedback:,} current feedback in "
        f"{seconds:.1f} s ({report.events / seconds:,.0f} events/s); overview 24h and 30d "
        f"{'identical' if same else 'DIFFERENT'} after the rebuild"
    )
