"""`phospho rollups rebuild`: recompute every rollup from the events and feedback.

It also repairs what a release without saturation may have left (REAL values in integer
columns after an overflowing SQLite upsert, counts past 32 bits), and prices events stored
without a cost whose model now has a known price.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from app.services import pricing
from app.services.rollups.cells import HOUR, MINUTE, Figures, figures_of, is_unpriced
from app.services.rollups.sqlite import BUMP_SETTLED, Folds, SqliteRollups, first_unfolded
from app.services.rollups.writers import RollupWriter, rollup_writer_for
from app.services.sql import IS_LATEST, Dialect, as_datetime, select
from app.services.store import MAX_COUNT, MAX_SUM, Plan, Query, chunks

REBUILD_CHUNK = 20_000


class StoredEvent(NamedTuple):
    """A stored event read back, as the rollups count it (`Counted`)."""

    figures: Figures
    user_id: str | None


@dataclass(slots=True)
class RebuildReport:
    """What a rebuild did."""

    events: int = 0
    sessions: int = 0
    feedback: int = 0
    repriced: int = 0
    repaired: int = 0  # rows of counters past their cap (left by a release without saturation)


def rebuild(d: Dialect, project_ids: Iterable[int] | None = None) -> Plan[RebuildReport]:
    """Recompute the rollups of the given projects (all when None) from events and feedback,
    pricing events stored without a cost whose model now has a known price. One transaction:
    on PostgreSQL it locks events and feedback against writes until it commits."""
    report = RebuildReport()
    if d.postgres:
        yield Query("LOCK TABLE events, feedback IN SHARE ROW EXCLUSIVE MODE", [])
    if project_ids is None:
        project_ids = [int(row["id"]) for row in (yield Query("SELECT id FROM projects", []))]
    projects = sorted(set(project_ids))
    scope, scope_params = _scope(projects, "project_id")
    now = int(time.time())
    folds = Folds()
    if not d.postgres:  # first fold every project's fine rows: the others' stay whole
        folding = SqliteRollups(folds)
        yield from folding.write((yield from folding.begin(now, fold_everything=True)))
    for table in ("metric_rollups", "user_rollups"):
        yield Query(d.sql(f"DELETE FROM {table} WHERE {scope}"), scope_params)  # noqa: S608
    if not d.postgres:  # PostgreSQL refused what would overflow: nothing there to repair
        report.repaired = yield from _repair_counters(scope, scope_params)
    writer = rollup_writer_for(d)  # every level, each chunk read and written in turn
    for project_id in projects:
        yield from _rebuild_events(d, writer, project_id, report)
        yield from _rebuild_sessions(d, writer, project_id, report)
    yield from _rebuild_feedback(d, writer, projects, scope_params, report)
    if not d.postgres:  # rebuilt rows are whole at every level: none of them is to be folded
        for level in (MINUTE, HOUR):
            past = yield from first_unfolded(level, now)
            if past > folds.of(level):
                yield from folds.move(level, past)
        yield Query(BUMP_SETTLED, [])  # what a server kept of the folded hours is stale
    return report


def _rebuild_feedback(
    d: Dialect, writer: RollupWriter, projects: list[int], params: list[Any], report: RebuildReport
) -> Plan[None]:
    """Count the current feedback of every event of the projects."""
    feedback_scope, _ = _scope(projects, "f.project_id")
    feedback = yield from _latest_feedback(d, feedback_scope, params)
    rollups = yield from writer.begin(int(time.time()))
    for row in feedback:
        rollups.add_feedback(
            int(row["project_id"]), as_datetime(row["created_at"]), row["model"],
            int(row["score"]), 1,
        )  # fmt: skip
    report.feedback = len(feedback)
    yield from writer.write(rollups)


def _rebuild_events(
    d: Dialect, writer: RollupWriter, project_id: int, report: RebuildReport
) -> Plan[None]:
    """Add one project's events to the rollups, chunk by chunk along its (project, time)
    index, pricing those stored without a cost."""
    after: tuple[Any, Any] | None = None
    while True:
        rows = yield from _event_chunk(d, project_id, after)
        if not rows:
            break
        after = (rows[-1]["created_at"], rows[-1]["id"])
        rollups = yield from writer.begin(int(time.time()))
        repriced: list[list[Any]] = []
        for row in rows:
            at = as_datetime(row["created_at"])
            cost = row["cost_nano"]
            if is_unpriced(cost, row["tokens_in"], row["tokens_out"]):
                cost = pricing.cost_nano(row["model"], row["tokens_in"], row["tokens_out"], at)
                if cost is not None:
                    repriced.append([row["id"], cost])
            figures = figures_of(
                row["model"], row["tokens_in"], row["tokens_out"], cost, row["latency_ms"],
                row["status"],
            )  # fmt: skip
            rollups.add_events(
                project_id, int(at.timestamp()), (StoredEvent(figures, row["user_id"]),)
            )
        report.events += len(rows)
        report.repriced += len(repriced)
        yield from _set_costs(d, repriced)
        yield from writer.write(rollups)


# Counters kept beside the rollups, capped where a release without saturation left them past
# their cap (SQLite: a REAL such as 9.2233720368547758e18 after an overflowing `+`).
_REPAIRS = {
    "end_users": {
        "event_count": MAX_COUNT, "hour_events": MAX_SUM, "hour_cost_nano": MAX_SUM,
        "hour_unpriced": MAX_SUM,
    },
    "sessions": {"event_count": MAX_COUNT},
}  # fmt: skip


def _repair_counters(scope: str, params: list[Any]) -> Plan[int]:
    """SQLite: cap the sessions' and end users' counters of the scope; how many rows."""
    repaired = 0
    for table, columns in _REPAIRS.items():
        sets = ", ".join(f"{col} = MIN({col}, {cap})" for col, cap in columns.items())
        over = " OR ".join(f"{col} > {cap}" for col, cap in columns.items())
        sql = f"UPDATE {table} SET {sets} WHERE {scope} AND ({over}) RETURNING id"  # noqa: S608
        repaired += len((yield Query(sql, params)))
    return repaired


def _scope(projects: list[int], column: str) -> tuple[str, list[Any]]:
    if not projects:
        return "1 = 0", []
    return f"{column} IN ({', '.join('?' * len(projects))})", list(projects)


# The model of a session's first event: the lowest id among the events of the commit that
# created the session (stored at its first_event_at), as the ingest counted it.
FIRST_MODEL = (
    "COALESCE((SELECT e.model FROM events e WHERE e.project_id = s.project_id AND "
    "e.session_key = s.session_key AND e.created_at >= s.first_event_at "
    "ORDER BY e.created_at, e.id LIMIT 1), '')"
)


def _rebuild_sessions(
    d: Dialect, writer: RollupWriter, project_id: int, report: RebuildReport
) -> Plan[None]:
    """Count one project's sessions as started at their first_event_at, chunk by chunk."""
    after = 0
    while True:
        sql = select(
            f"s.id, s.first_event_at, {FIRST_MODEL} AS model", "sessions s",
            "s.project_id = ? AND s.id > ?", f"ORDER BY s.id LIMIT {REBUILD_CHUNK}",
        )  # fmt: skip
        rows: list[dict[str, Any]] = yield Query(d.sql(sql), [project_id, after])
        if not rows:
            return
        after = int(rows[-1]["id"])
        rollups = yield from writer.begin(int(time.time()))
        for row in rows:
            stamp = int(as_datetime(row["first_event_at"]).timestamp())
            rollups.add_session(project_id, stamp, row["model"])
        report.sessions += len(rows)
        yield from writer.write(rollups)


def _event_chunk(
    d: Dialect, project_id: int, after: tuple[Any, Any] | None
) -> Plan[list[dict[str, Any]]]:
    where, values = "project_id = ?", [project_id]
    if after is not None:
        where += " AND (created_at > ? OR (created_at = ? AND id > ?))"
        values += [after[0], after[0], after[1]]
    sql = select(
        "id, project_id, created_at, model, tokens_in, tokens_out, cost_nano, latency_ms, user_id, "
        "status",
        "events",
        where,
        f"ORDER BY created_at, id LIMIT {REBUILD_CHUNK}",
    )
    rows: list[dict[str, Any]] = yield Query(d.sql(sql), values)
    return rows


def _set_costs(d: Dialect, rows: list[list[Any]]) -> Plan[None]:
    if not rows:
        return
    cast = "::uuid" if d.postgres else ""
    for chunk in chunks(rows, 5000):
        values = ", ".join(f"(?{cast}, ?::bigint)" if d.postgres else "(?, ?)" for _ in chunk)
        # Only `?` lists are interpolated; every value is a bound parameter.
        sql = (
            f"WITH v(id, cost) AS (VALUES {values}) "  # noqa: S608
            "UPDATE events SET cost_nano = (SELECT cost FROM v WHERE v.id = events.id) "
            "WHERE id IN (SELECT id FROM v)"
        )
        yield Query(d.sql(sql), [value for row in chunk for value in row])


def _latest_feedback(d: Dialect, scope: str, params: list[Any]) -> Plan[list[dict[str, Any]]]:
    where = f"{scope} AND {IS_LATEST.format(f='f')}"
    sql = select(
        "f.project_id, f.score, f.created_at, e.model",
        "feedback f JOIN events e ON e.id = f.event_id",
        where,
    )
    rows: list[dict[str, Any]] = yield Query(d.sql(sql), params)
    return rows
