"""`phospho retention run [--project P] [--dry-run]`: apply the retention windows now, or
print what applying them would delete (app/services/retention.py).

On SQLite the running server is the database's only writer and its sweeper applies the
windows every `PHOSPHO_RETENTION_SWEEP_SECONDS`: a run (not a dry run) is refused while it
serves. On PostgreSQL a run takes the sweepers' advisory lock, like a server's sweeper.
"""

from __future__ import annotations

import argparse
import sys

from app.db import DatabaseConfigError
from app.services.retention import SweepReport
from app.settings import Settings

SERVER_RUNNING = (
    "a phospho server is serving this SQLite database: its sweeper applies the retention "
    "windows every {seconds:g} s (PHOSPHO_RETENTION_SWEEP_SECONDS); stop the server to run "
    "this now, or see what it would delete with --dry-run"
)


async def run_retention(args: argparse.Namespace, settings: Settings) -> int:
    """Delete what is past the retention windows (or, with --dry-run, count it)."""
    from app.cli import _with_orm
    from app.services.projects import find_project
    from app.services.retention_preview import preview

    async def work() -> int:
        project_id = (await find_project(args.project)).id if args.project else None
        if args.dry_run:
            report = await preview(
                settings.retention_days, settings.rollup_retention_days, project_id
            )
            print_report(report, dry_run=True)
            return 0
        done = await _run(settings, project_id)
        if done is None:
            print("error: another process is sweeping now; try again later", file=sys.stderr)
            return 1
        print_report(done, dry_run=False)
        return 0

    return await _with_orm(settings, work)


async def _run(settings: Settings, project_id: int | None) -> SweepReport | None:
    from app.services.ingest import Ingestor
    from app.services.retention_sweeper import sweep_once, sweep_settings
    from app.services.write_backends import write_backend_for

    ingestor = Ingestor()
    try:
        await ingestor.start(write_backend_for(settings.resolved_database_url))
    except DatabaseConfigError:
        if not settings.is_sqlite:
            raise
        raise DatabaseConfigError(
            SERVER_RUNNING.format(seconds=settings.retention_sweep_seconds)
        ) from None
    try:  # nothing else writes through this writer: no pause between chunks
        return await sweep_once(ingestor, sweep_settings(settings), project_id, pause_factor=0)
    finally:
        await ingestor.stop()


def print_report(report: SweepReport, *, dry_run: bool) -> None:
    """One line per project (what was, or would be, deleted), then the rollups."""
    verb = "would delete" if dry_run else "deleted"
    print(f"{'PROJECT':<32}{'WINDOW':>10}  {verb}")
    for window, deleted in report.projects.items():
        name = f"{window.name} (#{window.id})"[:31]
        if window.days <= 0:
            print(f"{name:<32}{'forever':>10}  nothing")
            continue
        counts = ", ".join(f"{count} {label}" for label, count in deleted.as_dict().items())
        print(f"{name:<32}{f'{window.days} d':>10}  {counts}")
    pruned = report.rollups
    print(
        f"rollups: {verb} {pruned.metric_rollups} metric_rollups rows, "
        f"{pruned.user_rollups} user_rollups rows"
    )
