"""The upserts that add a transaction's cells to `metric_rollups` and `user_rollups`.

One multi-row upsert per table and parameter-limit chunk: counters are added and latency
histograms merged by the upsert itself, so concurrent writers (several processes on PostgreSQL)
never lose an update. Rows go in key order, so concurrent PostgreSQL writers lock them in the
same order. Every sum saturates at 2^63 - 1 (`store.MAX_SUM`): Python's sums are exact and
capped as they are bound; the upsert adds them to the stored ones without overflow.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.services.rollups.cells import Cell, CellKey, UserCounts
from app.services.sql import Dialect
from app.services.store import Plan, capped, insert_rows, saturated

_SUMMED = (
    "events", "tokens_in", "tokens_out", "cost_nano", "unpriced",
    "feedback_positive", "feedback_negative", "sessions", "errors",
)  # fmt: skip
_METRIC_HEAD = (
    "INSERT INTO metric_rollups (project_id, level, bucket, model, events, tokens_in, "
    "tokens_out, cost_nano, unpriced, latency_hist, feedback_positive, feedback_negative, "
    "sessions, errors) VALUES"
)
_METRIC_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


# The merged histogram. PostgreSQL sums the two JSON objects key by key (several processes may
# write the same row); on SQLite `excluded` already holds the whole merged histogram
# (`SqliteRollups._merged`).
_MERGE = {
    False: "excluded.latency_hist",
    True: "(SELECT jsonb_object_agg(key, total)::text FROM (SELECT key, SUM(value::bigint) AS "
    "total FROM (SELECT key, value FROM jsonb_each_text(metric_rollups.latency_hist::jsonb) "
    "UNION ALL SELECT key, value FROM jsonb_each_text(excluded.latency_hist::jsonb)) s "
    "GROUP BY key) t)",
}


def _metric_tail(postgres: bool) -> str:
    sums = ", ".join(
        f"{col} = {saturated(postgres, f'metric_rollups.{col}', f'excluded.{col}')}"
        for col in _SUMMED
    )
    return (
        "ON CONFLICT (project_id, level, bucket, model) DO UPDATE SET "
        f"{sums}, latency_hist = CASE WHEN excluded.latency_hist = '{{}}' "
        "THEN metric_rollups.latency_hist WHEN metric_rollups.latency_hist = '{}' "
        f"THEN excluded.latency_hist ELSE {_MERGE[postgres]} END"
    )


_METRIC_TAIL = {postgres: _metric_tail(postgres) for postgres in (False, True)}


_USER_HEAD = (
    "INSERT INTO user_rollups (project_id, level, bucket, user_id, events, cost_nano, unpriced) "
    "VALUES"
)
_USER_TAIL = {
    postgres: "ON CONFLICT (project_id, level, bucket, user_id) DO UPDATE SET "
    + ", ".join(
        f"{col} = {saturated(postgres, f'user_rollups.{col}', f'excluded.{col}')}"
        for col in ("events", "cost_nano", "unpriced")
    )
    for postgres in (False, True)
}


def upsert(
    d: Dialect,
    cells: dict[CellKey, Cell],
    histograms: Mapping[CellKey, str | bytes],
    users: dict[CellKey, UserCounts],
) -> Plan[None]:
    """Add `cells` (with `histograms`, each cell's as its dialect's upsert merges it) and
    `users` to the stored rows."""
    if cells:
        rows = [
            [*key, capped(c.events), capped(c.tokens_in), capped(c.tokens_out),
             capped(c.cost_nano), capped(c.unpriced), histograms[key],
             capped(c.feedback_positive), capped(c.feedback_negative), capped(c.sessions),
             capped(c.errors)]
            for key, c in sorted(cells.items())
        ]  # fmt: skip
        yield from insert_rows(d, _METRIC_HEAD, _METRIC_ROW, rows, tail=_METRIC_TAIL[d.postgres])
    if users:
        user_rows = [[*key, *map(capped, counts)] for key, counts in sorted(users.items())]
        yield from insert_rows(
            d, _USER_HEAD, "(?, ?, ?, ?, ?, ?, ?)", user_rows, tail=_USER_TAIL[d.postgres]
        )
