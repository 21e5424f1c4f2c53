"""`python -m bench.retention space`: under steady ingest with a full window, the SQLite file
stops growing. In process: an Ingestor whose clock walks through `--days` simulated days;
each day stores the same number of events (sessions, end users, tags and feedback included),
then a sweep with a 3-day window deletes what expired. Printed per day: events kept, file size,
pages and free pages. From the fourth day on the sweep frees a day's pages and the next day's
inserts reuse them (SQLite's freelist): the size stays flat."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.db import apply_migrations, close_orm, init_orm, reader
from app.services.ingest import Ingestor
from app.services.keys import Principal, create_api_key
from app.services.projects import get_or_create_project
from app.services.retention import sweep
from app.services.write_backends import write_backend_for
from app.settings import Settings
from bench.retention.seed import file_pages

WINDOW_DAYS = 3
EVENTS_PER_DAY = 20_000
BATCH = 500


def main(days: int) -> int:
    return asyncio.run(_run(days))


async def _run(days: int) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="phospho-bench-space-"))
    path = data_dir / "phospho.sqlite3"
    url = f"sqlite://{path}"
    now = [datetime.now(UTC) - timedelta(days=days + 1)]
    ingestor = Ingestor(clock=lambda: now[0])
    try:
        await apply_migrations(url)
        await init_orm(Settings(database_url=url, data_dir=data_dir))
        await ingestor.start(write_backend_for(url))
        project = await get_or_create_project("space")
        key = await create_api_key(project.id)
        principal = Principal(key_id=key.key.id, project_id=project.id)
        print(f"window {WINDOW_DAYS} days, {EVENTS_PER_DAY:,} events a day")
        print(f"{'day':>4}{'events kept':>13}{'deleted':>9}{'file MB':>9}{'pages':>8}{'free':>7}")
        for day in range(days):
            await _one_day(ingestor, principal, now, day)
            report = await sweep(ingestor, WINDOW_DAYS, 0, pause_factor=0)
            deleted = sum(d.events for d in report.projects.values())
            rows = await reader().execute_query_dict("SELECT COUNT(*) AS n FROM events")
            size, pages, free = file_pages(path)
            print(f"{day + 1:>4}{rows[0]['n']:>13,}{deleted:>9,}{size / 1e6:>9.1f}"
                  f"{pages:>8}{free:>7}")  # fmt: skip
    finally:
        await ingestor.stop()
        await close_orm()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


async def _one_day(ingestor: Ingestor, key: Principal, now: list[datetime], day: int) -> None:
    """A day of events, committed through the day (the clock advances with each batch)."""
    step = timedelta(days=1) / (EVENTS_PER_DAY // BATCH)
    for batch in range(EVENTS_PER_DAY // BATCH):
        now[0] += step
        events = [
            {
                "input": f"question {day}-{batch}-{i} " + "x" * 200,
                "output": f"answer {i} " + "y" * 400,
                "session_id": f"d{day}-s{(batch * BATCH + i) // 20}",
                "user_id": f"d{day}-u{i % 50}",
                "tags": ["a", "b"] if i % 10 == 0 else [],
                "metadata": {"model": "gpt-4o-mini", "tokens_in": 40, "tokens_out": 80},
            }
            for i in range(BATCH)
        ]
        results = await ingestor.log_events(key, {"events": events})
        for result in results[::30]:
            await ingestor.add_feedback(key, str(result.event_id), {"score": 1})
