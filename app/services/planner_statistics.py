"""PostgreSQL's planner statistics kept up with a bulk load: ANALYZE, off the request path.

Right after a bulk load PostgreSQL has no statistics of the new rows, and its guesses were
wrong for the reads (issue 24, bench/graphql at 100,000 events): a page's sessions were found
by reading every session of the project (the project's index, then a filter: 7-36 ms instead
of 0.1), the feedback and model filters took 50-73 ms, and text search had no common words
(`pg_stats`) to leave out of its index lookup (127 ms). Autovacuum analyzes a table once a
tenth of it has changed, but it looks only once a minute (its naptime), and it may be off.

So the Ingestor counts the rows each commit stores (`note`) and, past MIN_ROWS and FRACTION of
the events the last ANALYZE found, analyzes the tables the reads plan on: in a task of its own
on the read pool, never on a request's path, never two at once, and O(log n) times over a load
of n rows (each ANALYZE reads a sample of ~30,000 rows a table, whatever its size). Nothing to
do on SQLite, whose reads are written for its planner without statistics.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.db import reader
from app.services.sql import Dialect

TABLES = (
    "events", "feedback", "sessions", "event_tags", "end_users", "user_rollups", "metric_rollups",
)  # fmt: skip
MIN_ROWS = 10_000
FRACTION = 0.2
STOP_WAIT_SECONDS = 10.0
log = logging.getLogger("phospho.statistics")


async def analyze_read_tables() -> float:
    """ANALYZE the tables the reads plan on; how many events it found."""
    conn = reader()
    await conn.execute_script(f"ANALYZE {', '.join(TABLES)}")
    rows = await conn.execute_query_dict(
        "SELECT reltuples FROM pg_class WHERE oid = 'events'::regclass"
    )
    return max(0.0, float(rows[0]["reltuples"])) if rows else 0.0


class NoStatistics:
    """SQLite: nothing to keep."""

    def note(self, rows: int) -> None:
        """Ignore the commit."""

    async def stop(self) -> None:
        """Nothing running."""


class PlannerStatistics(NoStatistics):
    """PostgreSQL: ANALYZE in the background once enough rows were stored since the last."""

    def __init__(
        self,
        analyze: Callable[[], Awaitable[float]] = analyze_read_tables,
        *,
        min_rows: int = MIN_ROWS,
        fraction: float = FRACTION,
    ) -> None:
        self._analyze = analyze
        self.min_rows = min_rows
        self.fraction = fraction
        self.pending = 0  # rows stored since the last ANALYZE began
        self.seen = 0.0  # events the last ANALYZE found
        self.runs = 0  # ANALYZEs finished
        self.task: asyncio.Task[None] | None = None

    def note(self, rows: int) -> None:
        """After a commit that stored `rows` rows: start an ANALYZE when due (and none runs)."""
        self.pending += rows
        if self.task is None and self.pending >= max(self.min_rows, self.fraction * self.seen):
            self.pending = 0
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            self.seen = await self._analyze()
            self.runs += 1
        except Exception:  # statistics are an optimisation: the next commit may try again
            log.warning("ANALYZE of the read tables failed", exc_info=True)
        finally:
            self.task = None

    async def stop(self) -> None:
        """Let a running ANALYZE finish before the connections close (or cancel it)."""
        task = self.task
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_WAIT_SECONDS)
        except TimeoutError:
            task.cancel()


def planner_statistics_for(d: Dialect) -> NoStatistics:
    """What keeps the planner's statistics for this dialect."""
    return PlannerStatistics() if d.postgres else NoStatistics()
