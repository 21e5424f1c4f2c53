"""Rollups: the aggregates the metrics read, kept in the ingest transaction.

A group commit adds its events, feedback and the sessions it started (in the cell of each
session's first event: `ingest._commit_events`) to a `Rollups` accumulator that its
`RollupWriter` gave it (`begin`), then the writer upserts it (`write`): one row per (level,
bucket, model) and per (level, bucket, end user) the group touched, not one per event.
Counters are added and latency histograms merged by the upsert itself, so concurrent writers
(several processes on PostgreSQL) never lose an update.

The modules, one concern each:
- `histogram`: latency histograms (logarithmic bins within ALPHA = 1.5%), JSON and packed.
- `cells`: the levels, one event's `Figures`, a cell's counts (`Cell`).
- `accumulate`: `Rollups`, what one transaction adds, in memory.
- `upsert`: the SQL that adds cells to `metric_rollups` and `user_rollups`.
- `writers`: `RollupWriter`, chosen once per dialect (`rollup_writer_for`); PostgreSQL's.
- `sqlite`: SQLite's writer: fine rows folded lazily behind watermarks (`Folds`, table
  `rollup_folds`), histograms merged in memory (`Histograms`), both following the writer's
  commits and rollbacks.
- `reads`: what the metrics read (a level's rows with the fine rows not folded yet).
- `settled`: SQLite: the overview's top end users, the folded hours' sums kept between reads.
- `rebuild`: `phospho rollups rebuild`.

Every sum saturates at 2^63 - 1 (`store.MAX_SUM`, `store.saturated`): Python adds exactly and
caps what it binds, the upserts add in a form that cannot overflow. Per-event figures are
bounded (app/services/validation.py), so only cost sums can reach the cap (~9,223 events at the
maximum cost in one cell); a saturated figure reads "at least this much".
"""

from array import array

from app.services.rollups.accumulate import NoRollups, Rollups
from app.services.rollups.cells import (
    DAY,
    HOUR,
    LEVELS,
    MINUTE,
    NO_MODEL,
    USER_LEVELS,
    Cell,
    CellKey,
    Counted,
    Figures,
    figures_of,
    is_unpriced,
)
from app.services.rollups.histogram import (
    ALPHA,
    GAMMA,
    add_counts,
    add_packed,
    bin_of,
    merge_into,
    pack,
    percentile,
    percentiles,
    unpack,
    value_of,
)
from app.services.rollups.reads import (
    TopUsers,
    UserSums,
    metric_rows,
    metric_source,
    metric_spans,
    top_users,
    user_sums,
    whole_days,
)
from app.services.rollups.rebuild import RebuildReport, StoredEvent, rebuild
from app.services.rollups.sqlite import FOLDED, Folds, Histograms, SqliteRollups, WriterMemory
from app.services.rollups.writers import (
    NoRollupWriter,
    PostgresRollups,
    RollupWriter,
    rollup_writer_for,
)

__all__ = [
    "ALPHA", "DAY", "FOLDED", "GAMMA", "HOUR", "LEVELS", "MINUTE", "NO_MODEL", "USER_LEVELS",
    "Cell", "CellKey", "Counted", "Figures", "Folds", "Histograms", "NoRollupWriter",
    "NoRollups", "PostgresRollups", "RebuildReport", "RollupWriter", "Rollups",
    "SqliteRollups", "StoredEvent", "TopUsers", "UserSums", "WriterMemory", "add_counts",
    "add_packed", "array", "bin_of", "figures_of", "is_unpriced", "merge_into", "metric_rows",
    "metric_source", "metric_spans", "pack", "percentile", "percentiles", "rebuild",
    "rollup_writer_for", "top_users", "unpack", "user_sums", "value_of", "whole_days",
]  # fmt: skip
