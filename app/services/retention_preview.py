"""What a retention sweep would delete now (`phospho retention run --dry-run`): counted on
the read connection, nothing written, so it may run beside a serving SQLite server."""

from __future__ import annotations

from datetime import UTC, datetime

from app.services.deletion import Deleted
from app.services.retention import (
    ProjectWindow,
    RollupsPruned,
    SweepReport,
    cutoff,
    rollup_cutoff,
    windows,
)
from app.services.sql import Dialect, dialect, fetch

# Per project, given (project_id, cutoff): what a sweep deletes. A session or end user whose
# last event is expired has no event left afterwards.
_COUNTS = {
    "events": "SELECT COUNT(*) AS n FROM events WHERE project_id = ? AND created_at < ?",
    "feedback": "SELECT COUNT(*) AS n FROM feedback f JOIN events e ON e.id = f.event_id "
    "WHERE e.project_id = ? AND e.created_at < ?",
    "tags": "SELECT COUNT(*) AS n FROM event_tags WHERE project_id = ? AND created_at < ?",
    "sessions": "SELECT COUNT(*) AS n FROM sessions WHERE project_id = ? AND last_event_at < ?",
    "end_users": "SELECT COUNT(*) AS n FROM end_users WHERE project_id = ? AND last_seen < ?",
}


async def preview(
    default_days: int,
    rollup_days: int,
    project_id: int | None = None,
    *,
    now: datetime | None = None,
) -> SweepReport:
    """The counts a sweep started `now` would report (the rollups: not with `project_id`)."""
    d, now = dialect(), now or datetime.now(UTC)
    report = SweepReport()
    for window in await windows(default_days, project_id):
        report.projects[window] = await _project(d, window, now)
    if project_id is None and rollup_days > 0:
        bound = rollup_cutoff(now, rollup_days)
        pruned = RollupsPruned()
        for table in ("metric_rollups", "user_rollups"):
            rows = await fetch(d, f"SELECT COUNT(*) AS n FROM {table} WHERE bucket < ?", [bound])  # noqa: S608
            setattr(pruned, table, int(rows[0]["n"]))
        report.rollups = pruned
    return report


async def _project(d: Dialect, window: ProjectWindow, now: datetime) -> Deleted:
    counted = Deleted()
    if window.days <= 0:
        return counted
    before = d.time(cutoff(now, window.days))
    for name, sql in _COUNTS.items():
        rows = await fetch(d, sql, [window.id, before])
        setattr(counted, name, int(rows[0]["n"]))
    return counted
