"""SQLite's way of writing the rollups: fine rows folded lazily, histograms merged in memory.

SQLite has one writer (the server holds `claim_sqlite_writer`'s lock, and `phospho rollups
rebuild` refuses to run beside it), so it may remember what it wrote. A commit writes only the
minute cells of the current minute, and adds each end user's counts of the current hour to
that user's `end_users` row (which the commit upserts anyway: no extra row, page or statement;
`Rollups.end_user_hour`); the first commit after that minute or hour has passed folds it into
the coarser levels (minute rows into hour and day rows; end users' hours into `user_rollups`,
hour and day), in the same transaction, and moves a watermark (`Folds`, table `rollup_folds`).
Reads add what is at or after the watermark in the same statement (app/services/rollups/
reads.py), so the metrics stay exact. With single-event requests a commit holds ~8 events, and
writing every level each time (3 metric rows per model, 2 per end user) lengthened the
writer's cycle by ~25%; the user hour rows alone were then the largest part.

What the writer remembers (`Histograms`, `Folds`) follows the writer's transactions through
`committed` and `rolled_back` (`writer.TransactionHook`), so a rolled-back transaction never
leaks into the next.
"""

from __future__ import annotations

from array import array
from typing import Any

from app.services.rollups.accumulate import Rollups
from app.services.rollups.cells import (
    DAY,
    HOUR,
    MINUTE,
    USER_LEVELS,
    Cell,
    CellKey,
    UserCounts,
    add_cell,
    add_user_counts,
)
from app.services.rollups.histogram import add_counts, pack, unpack
from app.services.rollups.upsert import upsert
from app.services.sql import SQLITE, select
from app.services.store import MAX_PARAMS, Plan, Query, chunks


class WriterMemory:
    """What the SQLite writer remembers of the database across transactions.

    A transaction stages what it wrote; it becomes current once the writer reports that
    transaction committed, and is forgotten when it was rolled back, or when another plan
    begins without either (the plans of `WriteBackend.run_each` share a transaction, and one
    may have been rolled back to its savepoint)."""

    def begin(self) -> None:
        """A plan starts: what an unsettled one staged is not known to be stored."""
        self._forget()

    def committed(self) -> None:
        """The transaction committed: what it staged is now current."""
        self._keep()

    def rolled_back(self) -> None:
        """The transaction was rolled back: drop what it staged and what it may have changed."""
        self._forget()

    def _keep(self) -> None:
        raise NotImplementedError

    def _forget(self) -> None:
        raise NotImplementedError


class Histograms(WriterMemory):
    """SQLite: the stored latency histograms of the cells this process wrote lately, decoded.

    A commit then writes each cell's merged histogram whole, without reading it back or merging
    it in SQL (a Python SQL function merging row by row was ~40% of what rollups cost a
    commit). Sound because this process is the database's only writer: the server holds
    `claim_sqlite_writer`'s lock, and `phospho rollups rebuild` refuses to run beside it.
    PostgreSQL (several writers) merges in SQL instead.
    """

    LIMIT = 4096  # cells kept: the current minute, hour and day of every active model

    def __init__(self) -> None:
        self.current: dict[CellKey, tuple[int, array[int]]] = {}
        self.staged: dict[CellKey, tuple[int, array[int]]] = {}

    def _keep(self) -> None:
        for key, value in self.staged.items():
            self.current.pop(key, None)
            self.current[key] = value  # most recent last
        while len(self.current) > self.LIMIT:
            del self.current[next(iter(self.current))]
        self.staged.clear()

    def _forget(self) -> None:
        for key in self.staged:  # unknown whether written: read again when next needed
            self.current.pop(key, None)
        self.staged.clear()

    def known(self, key: CellKey) -> tuple[int, array[int]] | None:
        """The histogram as stored (or as staged by this transaction), if known."""
        return self.staged.get(key) or self.current.get(key)


NEVER = 2**63 - 1  # a watermark past every bucket (no rows to fold)
# The `rollup_folds` row of this level counts the transactions that changed end users' counts
# of folded hours (`before` holds the count): a late event's hours, an erasure, a retention
# sweep, a rebuild, a fold. The overview's top end users keep what the folded hours hold while
# it stays the same (app/services/rollups/settled.py).
SETTLED = 0
BUMP_SETTLED = (
    f"INSERT INTO rollup_folds (level, before) VALUES ({SETTLED}, 1) "  # noqa: S608
    "ON CONFLICT (level) DO UPDATE SET before = rollup_folds.before + 1"
)
# The watermark of a level as SQL: reads add the fine rows at or after it (none on PostgreSQL).
FOLDED = f"(SELECT COALESCE(MAX(before), {NEVER}) FROM rollup_folds WHERE level = {{}})"  # noqa: S608


class Folds(WriterMemory):
    """SQLite: the watermarks of `rollup_folds` as this writer knows them (models/rollup.py);
    after a failed transaction they are read again."""

    def __init__(self) -> None:
        self.before: dict[int, int] | None = None
        self.staged: dict[int, int] = {}

    def _keep(self) -> None:
        if self.before is not None:
            self.before.update(self.staged)
        self.staged.clear()

    def _forget(self) -> None:
        if self.staged:
            self.before = None
        self.staged.clear()

    def of(self, level: int) -> int:
        """The watermark of a level (`load` first)."""
        assert self.before is not None, "folds not loaded"
        return self.staged.get(level, self.before.get(level, NEVER))

    def load(self, now: int) -> Plan[None]:
        """Read the watermarks; a database without them (new, from before folding where every
        level was written by every commit, or whose user rows migration 5 made whole) starts
        them after what is stored (`first_unfolded`)."""
        if self.before is None:
            rows = yield Query("SELECT level, before FROM rollup_folds", [])
            self.before = {int(row["level"]): int(row["before"]) for row in rows}
        for level in (MINUTE, HOUR):
            if level not in self.before and level not in self.staged:
                start = yield from first_unfolded(level, now)
                yield Query(
                    "INSERT INTO rollup_folds (level, before) VALUES (?, ?)", [level, start]
                )
                self.staged[level] = start

    def up_to_date(self, now: int) -> bool:
        """Loaded, and no fine bucket has passed since: nothing to read or to fold (the usual
        case, which then costs no statement)."""
        if self.before is None:
            return False
        for level in (MINUTE, HOUR):
            start = self.staged.get(level, self.before.get(level))
            if start is None or start < now - now % level:
                return False
        return True

    def move(self, level: int, before: int) -> Plan[None]:
        """Set a watermark (in this transaction)."""
        yield Query("UPDATE rollup_folds SET before = ? WHERE level = ?", [before, level])
        self.staged[level] = before


# The last stored bucket of a watermark's fine level: minute rows; hours of end users (kept in
# end_users until folded; in user_rollups as well, whole, when written late or rebuilt).
_LAST_FINE = {
    MINUTE: "SELECT MAX(bucket) AS last FROM metric_rollups WHERE level = 60",
    HOUR: "SELECT MAX(last) AS last FROM (SELECT MAX(bucket) AS last FROM user_rollups "
    "WHERE level = 3600 UNION ALL SELECT MAX(hour_bucket) FROM end_users) s",
}


def first_unfolded(level: int, now: int) -> Plan[int]:
    """Where a watermark starts: the first bucket of `level` after every stored fine one of
    that level (those are whole at every level already), and not before `now`'s: the bucket
    of `now` itself when nothing of it is stored (a new database then keeps its first minute
    and hour lazily too)."""
    rows = yield Query(_LAST_FINE[level], [])
    last = rows[0]["last"]
    first = now - now % level
    return first if last is None else max(first, int(last) + level)


class SqliteRollups:
    """The `RollupWriter` of SQLite. With `folds` (the ingest), fine rows are folded lazily;
    without (`rebuild`), every level is written each time."""

    def __init__(self, folds: Folds | None = None) -> None:
        self.histograms = Histograms()  # what this writer stored lately (the Ingestor's)
        self.folds = folds

    def begin(self, now: int, *, fold_everything: bool = False) -> Plan[Rollups]:
        """A transaction's accumulator, before it writes anything: with `folds`, the
        watermarks read and the fine rows whose bucket has passed (all of them with
        `fold_everything`: server stop, rebuild) folded, the end users' hours among them,
        which this commit's end_users upsert may replace."""
        self.histograms.begin()
        rollups, folds = Rollups(), self.folds
        if folds is None:
            return rollups
        folds.begin()
        if fold_everything or not folds.up_to_date(now):
            yield from folds.load(now)
            yield from _fold(rollups, folds, now, fold_everything)
        rollups.kept_from = folds.of(HOUR)
        return rollups

    def write(self, rollups: Rollups) -> Plan[None]:
        """Upsert what `rollups` holds. With `folds`, this commit's current minute gets its
        minute cells only, and its end users' counts of the current hour went to their
        end_users rows; what `begin` folded is written with them. Older cells (feedback
        replacing an old one, a clock set back) are written at every level at once."""
        folds = self.folds
        cells = rollups.cells(None if folds is None else folds.of(MINUTE))
        histograms = (yield from self._merged(cells)) if cells else {}
        users = rollups.user_cells()
        yield from upsert(SQLITE, cells, histograms, users)
        if users or rollups.changes_settled:  # not the end users' current hours alone
            yield Query(BUMP_SETTLED, [])

    def committed(self) -> None:
        """The writer committed the transaction."""
        self.histograms.committed()
        if self.folds is not None:
            self.folds.committed()

    def rolled_back(self) -> None:
        """The writer rolled the transaction back."""
        self.histograms.rolled_back()
        if self.folds is not None:
            self.folds.rolled_back()

    def _merged(self, cells: dict[CellKey, Cell]) -> Plan[dict[CellKey, str | bytes]]:
        """Each cell's stored histogram plus this transaction's, packed, to be written whole
        (`Histograms`); stored ones this writer does not know are read first (one SELECT)."""
        known = self.histograms
        bases: dict[CellKey, tuple[int, array[int]] | None] = {}
        missing: list[CellKey] = []
        for key, cell in cells.items():
            if cell.histogram:
                base = bases[key] = known.known(key)
                if base is None:
                    missing.append(key)
        for part in chunks(missing, MAX_PARAMS // 4):
            marks = ", ".join(["(?, ?, ?, ?)"] * len(part))
            sql = select(
                "project_id, level, bucket, model, latency_hist", "metric_rollups",
                f"(project_id, level, bucket, model) IN (VALUES {marks})",
            )  # fmt: skip
            for row in (yield Query(sql, [value for key in part for value in key])):
                if isinstance(row["latency_hist"], bytes):
                    key = (row["project_id"], row["level"], row["bucket"], row["model"])
                    bases[key] = unpack(row["latency_hist"])
        encoded: dict[CellKey, str | bytes] = {}
        staged = known.staged
        for key, cell in cells.items():
            if key not in bases:
                encoded[key] = "{}"
                continue
            # In place: the arrays are this writer's own, forgotten if the transaction fails.
            low, counts = staged[key] = add_counts(bases[key], cell.histogram, in_place=True)
            encoded[key] = pack(low, counts)
        return encoded


def _fold(rollups: Rollups, folds: Folds, now: int, everything: bool) -> Plan[None]:
    """Into `rollups`: the coarse cells of the fine rows whose bucket has passed (all of them
    with `everything`), read before this commit writes; watermarks moved past them. Minute
    rows go to hour and day rows; end users' hours to user_rollups, hour and day."""
    cells, users = rollups.folded_cells, rollups.folded_users
    for row in (yield from _passed(folds, MINUTE, _UNFOLDED_MINUTES, now, everything)):
        bucket, cell = int(row["bucket"]), Cell.from_row(row)
        for level in (HOUR, DAY):
            key = (int(row["project_id"]), level, bucket - bucket % level, row["model"])
            add_cell(cells, key, cell)
    for row in (yield from _passed(folds, HOUR, _UNFOLDED_HOURS, now, everything)):
        bucket = int(row["bucket"])
        counts: UserCounts = [int(row["events"]), int(row["cost_nano"]), int(row["unpriced"])]
        for level in USER_LEVELS:
            key = (int(row["project_id"]), level, bucket - bucket % level, row["user_id"])
            add_user_counts(users, key, counts)


def _passed(
    folds: Folds, level: int, sql: str, now: int, everything: bool
) -> Plan[list[dict[str, Any]]]:
    """The not yet folded rows of `level` (`sql`, given the bucket range) whose bucket has
    passed (or all), with the watermark moved past them (never backwards)."""
    start, current = folds.of(level), now - now % level
    if start >= current and not everything:
        return []
    end = NEVER if everything else current
    rows: list[dict[str, Any]] = yield Query(sql, [start, end])
    last = max([current - level, *(int(row["bucket"]) for row in rows)])
    yield from folds.move(level, max(start, last + level))
    return rows


_UNFOLDED_MINUTES = select(
    "project_id, bucket, model, events, tokens_in, tokens_out, cost_nano, unpriced, "
    "latency_hist, feedback_positive, feedback_negative, sessions, errors",
    "metric_rollups",
    "project_id IN (SELECT id FROM projects) AND level = 60 AND bucket >= ? AND bucket < ?",
)
# An end user's row is last seen at or after its hour: the last_seen index narrows the range
# (the bound in last_seen's stored text form).
_UNFOLDED_HOURS = select(
    "project_id, hour_bucket AS bucket, user_id, hour_events AS events, "
    "hour_cost_nano AS cost_nano, hour_unpriced AS unpriced",
    "end_users",
    "project_id IN (SELECT id FROM projects) AND hour_bucket >= ?1 AND hour_bucket < ?2 "
    "AND hour_events > 0 AND last_seen >= strftime('%Y-%m-%d %H:%M:%S', ?1, 'unixepoch')",
)
