"""The server's retention sweeper: a task of the app's lifespan (app/factory.py) that runs a
sweep (app/services/retention.py) shortly after start, then every
`PHOSPHO_RETENTION_SWEEP_SECONDS`.

One sweeper at a time: on SQLite the server is the only writer (`claim_sqlite_writer`); on
PostgreSQL, where several processes serve one database, a pass first takes a session-level
advisory lock (`pg_try_advisory_lock`) on a connection of its own and is skipped when another
process holds it (`sweep_lock`); the lock goes with that connection, crash included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from app.errors import Unavailable
from app.services.ingest import Ingestor
from app.services.retention import CHUNK_EVENTS, PAUSE_FACTOR, SweepReport, sweep
from app.settings import Settings

log = logging.getLogger("phospho.retention")

# The advisory lock's key (any 64-bit number no other feature uses): "phospho retention".
LOCK_KEY = 0x70686F7370686F52
FIRST_SWEEP_SECONDS = 30.0


@contextlib.asynccontextmanager
async def sweep_lock(database_url: str) -> AsyncIterator[bool]:
    """Whether this process may sweep now (True on SQLite). On PostgreSQL: held until the
    block ends, False while another process holds it."""
    if not database_url.startswith(("postgres:", "postgresql:")):
        yield True
        return
    conn = await asyncpg.connect(database_url)
    try:
        got = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY))
        try:
            yield got
        finally:
            if got:
                await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await conn.close()


@dataclass(frozen=True, slots=True)
class SweepSettings:
    """What a sweep needs of the settings."""

    database_url: str
    retention_days: int
    rollup_retention_days: int
    interval: float
    chunk: int = CHUNK_EVENTS
    pause_factor: float = PAUSE_FACTOR


def sweep_settings(settings: Settings) -> SweepSettings:
    """What the retention sweeper (and `phospho retention run`) take from the settings."""
    return SweepSettings(
        settings.resolved_database_url,
        settings.retention_days,
        settings.rollup_retention_days,
        settings.retention_sweep_seconds,
        settings.retention_chunk_events,
        settings.retention_pause_factor,
    )


async def sweep_once(
    ingestor: Ingestor,
    settings: SweepSettings,
    project_id: int | None = None,
    *,
    chunk: int | None = None,
    pause_factor: float | None = None,
) -> SweepReport | None:
    """One pass under the lock; None when another process is sweeping (PostgreSQL).
    `chunk` and `pause_factor` default to the settings'."""
    async with sweep_lock(settings.database_url) as mine:
        if not mine:
            return None
        return await sweep(
            ingestor,
            settings.retention_days,
            settings.rollup_retention_days,
            project_id=project_id,
            chunk=settings.chunk if chunk is None else chunk,
            pause_factor=settings.pause_factor if pause_factor is None else pause_factor,
        )


class Sweeper:
    """The background loop."""

    def __init__(self, ingestor: Ingestor, settings: SweepSettings) -> None:
        self.ingestor = ingestor
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop (in the app's lifespan, after the writer started)."""
        self._task = asyncio.create_task(self._loop(), name="phospho-retention")

    async def stop(self) -> None:
        """Stop the loop (before the writer stops); a chunk in flight is abandoned or done."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        await asyncio.sleep(min(FIRST_SWEEP_SECONDS, self.settings.interval))
        while True:
            try:
                report = await sweep_once(self.ingestor, self.settings)
            except Unavailable:  # the writer is stopping or overloaded: try at the next turn
                report = None
            except Exception:  # a fault is logged; the server goes on, the next pass retries
                log.exception("retention sweep failed")
                report = None
            if report is not None:
                _log_report(report)
            await asyncio.sleep(self.settings.interval)


def _log_report(report: SweepReport) -> None:
    for window, deleted in report.projects.items():
        if deleted.events or deleted.end_users or deleted.sessions:
            log.info(
                "retention: project %s (%d days): deleted %s",
                window.name,
                window.days,
                ", ".join(f"{count} {name}" for name, count in deleted.as_dict().items()),
            )
    pruned = report.rollups
    if pruned.metric_rollups or pruned.user_rollups:
        log.info(
            "retention: deleted %d metric_rollups and %d user_rollups rows",
            pruned.metric_rollups,
            pruned.user_rollups,
        )
