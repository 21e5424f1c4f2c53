"""PostgreSQL's planner statistics after a bulk load (app/services/planner_statistics.py): the
Ingestor analyzes the read tables in the background once enough rows were stored, so the
reads are planned on statistics right after a load, whether autovacuum is on or not."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.services.ingest import Ingestor
from app.services.planner_statistics import NoStatistics, PlannerStatistics
from tests.factories import fresh_database, new_principal
from tests.harness import BACKENDS


async def test_analyze_starts_in_the_background_when_due_and_never_twice_at_once() -> None:
    """Due past `min_rows` stored rows, then past `fraction` of the events the last ANALYZE
    found; a commit never waits for it, and rows stored meanwhile count towards the next."""
    started: list[int] = []
    release = asyncio.Event()

    async def analyze() -> float:
        started.append(1)
        await release.wait()
        return 1_000.0

    keeper = PlannerStatistics(analyze, min_rows=100, fraction=0.5)
    keeper.note(99)
    await asyncio.sleep(0)
    assert started == [] and keeper.task is None
    keeper.note(1)
    await asyncio.sleep(0)
    assert started == [1] and keeper.task is not None  # running, and note() did not wait
    keeper.note(400)
    await asyncio.sleep(0)
    assert started == [1]  # one at a time
    release.set()
    await keeper.stop()
    assert keeper.task is None and keeper.runs == 1 and keeper.seen == 1_000.0
    keeper.note(99)  # 400 + 99 stored since: below half of the 1,000 events it found
    await asyncio.sleep(0)
    assert started == [1]
    keeper.note(1)
    await asyncio.sleep(0)
    assert started == [1, 1]
    await keeper.stop()


async def test_a_failed_analyze_is_logged_and_tried_again_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Statistics are an optimisation: a failure is a warning, and the next due commit
    tries again."""
    calls = 0

    async def analyze() -> float:
        nonlocal calls
        calls += 1
        raise OSError("connection lost")

    keeper = PlannerStatistics(analyze, min_rows=10)
    keeper.note(10)
    await keeper.stop()
    assert calls == 1 and keeper.runs == 0 and "ANALYZE" in caplog.text
    keeper.note(10)
    await keeper.stop()
    assert calls == 2


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_bulk_load_leaves_postgresql_with_statistics(backend: str, tmp_path: Path) -> None:
    """Right after a bulk load through the Ingestor the read tables are analyzed, without
    waiting for autovacuum (which looks once a minute, and may be off): without statistics a
    page's sessions were found by reading every session of the project (7-36 ms at 100,000
    events, bench/graphql)."""
    ingestor = Ingestor()
    async with fresh_database(backend, tmp_path, ingestor) as url:
        if backend == "sqlite":
            assert isinstance(ingestor.statistics, NoStatistics)
            assert not isinstance(ingestor.statistics, PlannerStatistics)
            pytest.skip("SQLite's reads are written for its planner without statistics")
        assert isinstance(ingestor.statistics, PlannerStatistics)
        ingestor.statistics = PlannerStatistics(min_rows=1_500)
        who = await new_principal("bulk")
        for start in range(0, 3_000, 500):
            await ingestor.log_events(
                who, {"events": [_event(n) for n in range(start, start + 500)]}
            )
        task = ingestor.statistics.task
        if task is not None:
            await task
        admin = await asyncpg.connect(url)
        try:
            row = await admin.fetchrow(
                "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'events'"
            )
            assert ingestor.statistics.runs >= 1
            assert row is not None and row["last_analyze"] is not None
            sizes = dict(await admin.fetch(
                "SELECT relname::text, reltuples FROM pg_class "
                "WHERE relname IN ('events', 'sessions', 'end_users')"
            ))  # fmt: skip
            assert sizes["events"] >= 1_500 and sizes["sessions"] >= 250, sizes
            # The figures the planner and the search's common words read (pg_stats).
            columns = await admin.fetchval(
                "SELECT count(*) FROM pg_stats WHERE tablename = 'events'"
            )
            assert columns > 0
        finally:
            await admin.close()


def _event(n: int) -> dict[str, Any]:
    return {"input": f"q {n}", "output": "a", "session_id": f"s-{n - n % 6}", "user_id": "u"}
