"""What the erasure benchmark checks: rows naming a user, and the rollups by cell."""

from __future__ import annotations

from typing import Any

from app.services import rollups
from app.services.sql import dialect, fetch

_SUMS = (
    "events", "tokens_in", "tokens_out", "cost_nano", "unpriced", "feedback_positive",
    "feedback_negative", "sessions", "errors",
)  # fmt: skip


async def rows_naming(project_id: int, user_id: str) -> dict[str, int]:
    """How many rows of each table name this end user of this project."""
    found = {}
    for table in ("events", "sessions", "end_users", "user_rollups"):
        sql = f"SELECT COUNT(*) AS n FROM {table} WHERE project_id = ? AND user_id = ?"  # noqa: S608
        found[table] = int((await fetch(dialect(), sql, [project_id, user_id]))[0]["n"])
    return found


async def rollup_rows(project_id: int) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """A project's rollup rows by cell, rows and histogram bins of zero left out."""
    d = dialect()
    metric: dict[Any, Any] = {}
    for row in await fetch(d, "SELECT * FROM metric_rollups WHERE project_id = ?", [project_id]):
        histogram: dict[int, int] = {}
        rollups.merge_into(histogram, row["latency_hist"])
        bins = tuple(sorted((b, n) for b, n in histogram.items() if n))
        counts = tuple(int(row[name]) for name in _SUMS)
        if any(counts) or bins:
            metric[(row["level"], row["bucket"], row["model"])] = (counts, bins)
    users: dict[Any, Any] = {}
    for row in await fetch(d, "SELECT * FROM user_rollups WHERE project_id = ?", [project_id]):
        counts = (int(row["events"]), int(row["cost_nano"]), int(row["unpriced"]))
        if any(counts):
            users[(row["level"], row["bucket"], row["user_id"])] = counts
    return metric, users
