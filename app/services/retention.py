"""Retention: events older than their project's window are deleted, in bounded chunks,
through the write path (`Ingestor.maintain`, a `MaintenanceJob` per chunk), so on SQLite a
chunk queues behind ingest in the one writer instead of contending for the database lock.

A project's window is its `retention_days` (set in Settings → Project), or the server's
`PHOSPHO_RETENTION_DAYS` when that is NULL; 0 keeps its events forever. An event is expired
when `created_at < now - window` (now: the chunk's commit time). The rollups (the Overview's
history) are not touched by the event sweep; `PHOSPHO_ROLLUP_RETENTION_DAYS` is their own
window, applied in whole days (`rollup_plan`).

The background loop is app/services/retention_sweeper.py; `phospho retention run` is
app/cli_retention.py; what a dry run counts is app/services/retention_preview.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.db import reader
from app.services import deletion
from app.services.deletion import Deleted
from app.services.ingest import Ingestor
from app.services.ingest_jobs import MaintenanceJob
from app.services.rollups import DAY, HOUR, Rollups
from app.services.sql import Dialect, dialect
from app.services.store import Plan, Query

MAX_DAYS = 36_500  # a hundred years: the largest window a project may be given
# Events per chunk (one MaintenanceJob, one share of a group commit), and the pause after each
# chunk as a multiple of the chunk's own time: measured with bench/retention (see README).
CHUNK_EVENTS = 40
PAUSE_FACTOR = 5.0


@dataclass(frozen=True, slots=True)
class ProjectWindow:
    """A project and how many days of its events are kept (0: forever)."""

    id: int
    name: str
    days: int


@dataclass(slots=True)
class Chunk:
    """What one chunk deleted, and whether expired events may remain."""

    deleted: Deleted
    more: bool


@dataclass(slots=True)
class RollupsPruned:
    """Rows of the rollup tables deleted by the rollup window."""

    metric_rollups: int = 0
    user_rollups: int = 0


@dataclass(slots=True)
class SweepReport:
    """What a sweep deleted, per project, and of the rollups."""

    projects: dict[ProjectWindow, Deleted] = field(default_factory=dict)
    rollups: RollupsPruned = field(default_factory=RollupsPruned)
    seconds: float = 0.0


async def windows(default_days: int, project_id: int | None = None) -> list[ProjectWindow]:
    """Every project (or the one `project_id`) with its effective window."""
    sql = "SELECT id, name, retention_days FROM projects"
    params: list[Any] = []
    if project_id is not None:
        sql += " WHERE id = ?"
        params.append(project_id)
    rows = await reader().execute_query_dict(dialect().sql(sql), params)
    return [
        ProjectWindow(
            int(row["id"]),
            row["name"],
            default_days if row["retention_days"] is None else int(row["retention_days"]),
        )
        for row in sorted(rows, key=lambda row: int(row["id"]))
    ]


def cutoff(now: datetime, days: int) -> datetime:
    """The oldest time kept by a window of `days` at `now`: earlier events are expired."""
    return now - timedelta(days=days)


def chunk_plan(
    project_id: int, days: int, limit: int = CHUNK_EVENTS
) -> Callable[[Dialect, Rollups, datetime], Plan[Chunk]]:
    """A MaintenanceJob plan: delete up to `limit` of the project's oldest expired events
    (with feedback and tags; sessions and end users settled). When none is left, it also
    settles end users emptied earlier but kept for an unfolded hour (SQLite)."""

    def plan(d: Dialect, rollups: Rollups, now: datetime) -> Plan[Chunk]:
        before = d.time(cutoff(now, days))
        rows = yield Query(
            d.sql(
                "SELECT id FROM events WHERE project_id = ? AND created_at < ? "
                "ORDER BY created_at LIMIT ?"
            ),
            [project_id, before, limit],
        )
        # SQLite keeps an end user's current hour in its row until the hour is folded (the
        # commit's `begin` has folded every passed hour): such a row is not deleted yet.
        stamp = int(now.timestamp())
        keep = None if d.postgres else stamp - stamp % HOUR
        done = yield from deletion.delete_events(
            d, project_id, [row["id"] for row in rows], keep_hour_from=keep
        )
        more = len(rows) == limit
        if not more:
            empty = yield Query(
                d.sql(
                    "SELECT user_id FROM end_users WHERE project_id = ? AND last_seen < ? "
                    "AND event_count = 0"
                ),
                [project_id, before],
            )
            users = {row["user_id"]: 0 for row in empty}
            done.add((yield from deletion.settle(d, project_id, {}, users, keep_hour_from=keep)))
        return Chunk(done, more)

    return plan


def rollup_cutoff(now: datetime, days: int) -> int:
    """The rollup window's bound (epoch seconds, a UTC day's start): rows of every level
    whose bucket lies before it are deleted, so a day goes whole (its minutes, hours and day
    row together) once it lies entirely outside the window."""
    stamp = int(cutoff(now, days).timestamp())
    return stamp - stamp % DAY


def rollup_plan(
    days: int, limit: int = 5_000
) -> Callable[[Dialect, Rollups, datetime], Plan[tuple[RollupsPruned, bool]]]:
    """A MaintenanceJob plan: delete up to `limit` rows of each rollup table older than the
    rollup window (every project). Run in the writer's transaction after `begin` has folded
    every passed minute and hour (SQLite), so no unfolded row is ever among them."""

    def plan(d: Dialect, rollups: Rollups, now: datetime) -> Plan[tuple[RollupsPruned, bool]]:
        bound = rollup_cutoff(now, days)
        pruned, more = RollupsPruned(), False
        for table in ("metric_rollups", "user_rollups"):
            gone = yield Query(
                d.sql(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} "  # noqa: S608
                    "WHERE bucket < ? LIMIT ?) RETURNING 1 AS x"
                ),
                [bound, limit],
            )
            setattr(pruned, table, len(gone))
            more = more or len(gone) == limit
        if not d.postgres:  # departed end users with no rollup row left (migration 17)
            gone = yield Query(
                "DELETE FROM departed_users WHERE rowid IN (SELECT rowid FROM departed_users "
                "WHERE last_seen < ? LIMIT ?) RETURNING 1 AS x",
                [d.time(datetime.fromtimestamp(bound, UTC)), limit],
            )
            more = more or len(gone) == limit
        return pruned, more

    return plan


async def paced(started: float, pause_factor: float) -> None:
    """Let the writer serve ingest between chunks: sleep `pause_factor` times what the last
    chunk took (at least a millisecond)."""
    await asyncio.sleep(max(0.001, (time.perf_counter() - started) * pause_factor))


async def sweep_project(
    ingestor: Ingestor,
    window: ProjectWindow,
    *,
    chunk: int = CHUNK_EVENTS,
    pause_factor: float = PAUSE_FACTOR,
) -> Deleted:
    """Delete the project's expired events chunk by chunk; what was deleted."""
    total = Deleted()
    if window.days <= 0:
        return total
    while True:
        started = time.perf_counter()
        job = MaintenanceJob(window.id, chunk_plan(window.id, window.days, chunk), "retention")
        result: Chunk = await ingestor.maintain(job)
        await ingestor.checkpoint()  # its pages written back within its own time
        total.add(result.deleted)
        if not result.more:
            return total
        await paced(started, pause_factor)


async def prune_rollups(
    ingestor: Ingestor, days: int, *, pause_factor: float = PAUSE_FACTOR
) -> RollupsPruned:
    """Delete the rollup rows older than the rollup window, chunk by chunk."""
    total = RollupsPruned()
    if days <= 0:
        return total
    while True:
        started = time.perf_counter()
        job = MaintenanceJob(0, rollup_plan(days), "rollup retention")
        pruned, more = await ingestor.maintain(job)
        await ingestor.checkpoint()
        total.metric_rollups += pruned.metric_rollups
        total.user_rollups += pruned.user_rollups
        if not more:
            return total
        await paced(started, pause_factor)


async def sweep(
    ingestor: Ingestor,
    default_days: int,
    rollup_days: int,
    *,
    project_id: int | None = None,
    chunk: int = CHUNK_EVENTS,
    pause_factor: float = PAUSE_FACTOR,
) -> SweepReport:
    """One pass: every project's expired events (or one project's), then the rollup window
    (not with `project_id`: that window is the server's)."""
    report = SweepReport()
    started = time.perf_counter()
    for window in await windows(default_days, project_id):
        report.projects[window] = await sweep_project(
            ingestor, window, chunk=chunk, pause_factor=pause_factor
        )
    if project_id is None:
        report.rollups = await prune_rollups(ingestor, rollup_days, pause_factor=pause_factor)
    report.seconds = time.perf_counter() - started
    return report
