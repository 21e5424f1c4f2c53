"""Rollups: the aggregates the metrics read, kept in the ingest transaction.

A group commit adds its events, feedback and the sessions it started (in the cell of each
session's first event: `ingest._commit_events`) to a `Rollups` accumulator, then `Rollups.plan`
writes one multi-row upsert per table: one row per (level, bucket, model) and per (level,
bucket, end user) the group touched, not one per event. Counters are added and latency
histograms merged by the upsert itself, so concurrent writers (several processes on PostgreSQL)
never lose an update. PostgreSQL stores histograms as JSON and merges them in SQL; SQLite stores
them packed (`pack`: ~800 bytes for a day against ~2.7 kB of JSON, so a commit rewrites small
rows) and merges them in Python: SQLite has one writer, which keeps the histograms it wrote
(`Histograms`) and writes each merged one whole.

On SQLite a commit writes only the minute cells of the current minute, and adds each end
user's counts of the current hour to that user's `end_users` row (which the commit upserts
anyway: no extra row, page or statement); the first commit after that minute or hour has
passed folds it into the coarser levels (minute rows into hour and day rows; end users' hours
into `user_rollups`, hour and day), in the same transaction, and moves a watermark (`Folds`,
table `rollup_folds`). Reads add what is at or after the watermark in the same statement, so
the metrics stay exact. With single-event requests a commit holds ~8 events, and writing
every level each time (3 metric rows per model, 2 per end user) lengthened the writer's cycle
by ~25%; the user hour rows alone were then the largest part. PostgreSQL, where several
processes write, keeps writing every level of both tables in every commit.

Latency histograms have logarithmic bins: with G = GAMMA, bin `i` holds the values in
(G^(i-1), G^i] and stands for 2·G^i/(G+1), which is within ALPHA (1.5%) of every value in the
bin, so a percentile read from a histogram is within 1.5% of the value of the exact rank (the
DDSketch construction).

Every sum saturates at 2^63 - 1 (`store.MAX_SUM`, `store.saturated`): Python adds exactly and
caps what it binds, the upserts add in a form that cannot overflow. Per-event figures are
bounded (app/services/validation.py), so only cost sums can reach the cap (~9,223 events at the
maximum cost in one cell); a saturated figure reads "at least this much".

`rebuild` recomputes every rollup from the events and feedback (`phospho rollups rebuild`), and
repairs what a release without saturation may have left (REAL values in integer columns after
an overflowing SQLite upsert, counts past 32 bits).
"""

from __future__ import annotations

import math
import sys
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

from app.services import pricing
from app.services.sql import IS_LATEST, Dialect, as_datetime, select
from app.services.store import (
    MAX_COUNT,
    MAX_PARAMS,
    MAX_SUM,
    Plan,
    Query,
    capped,
    chunks,
    insert_rows,
    saturated,
)

MINUTE, HOUR, DAY = 60, 3600, 86400
LEVELS = (MINUTE, HOUR, DAY)  # metric_rollups
USER_LEVELS = (HOUR, DAY)  # user_rollups (finer windows read the events table)

ALPHA = 0.015
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
MIN_LATENCY_MS = 0.001  # smaller values (0 included) fall in this value's bin

NO_MODEL = ""  # `model` of rollups for events logged without one


def bin_of(latency_ms: float) -> int:
    """The histogram bin of a latency."""
    return math.ceil(math.log(max(latency_ms, MIN_LATENCY_MS)) / _LOG_GAMMA)


def value_of(index: int) -> float:
    """The value a bin stands for (within ALPHA of everything in it)."""
    return 2 * GAMMA**index / (GAMMA + 1)


def percentile(histogram: dict[int, int], q: float) -> float | None:
    """The q-quantile (0 < q ≤ 1) by nearest rank: the value of the ⌈q·n⌉-th smallest."""
    return percentiles(histogram, (q,))[0]


def percentiles(histogram: dict[int, int], qs: tuple[float, ...]) -> list[float | None]:
    """`percentile` of each q (ascending), in one pass over the sorted bins."""
    total = sum(histogram.values())
    if total <= 0:
        return [None] * len(qs)
    ranks = [max(1, math.ceil(q * total - 1e-9)) for q in qs]
    found: list[float | None] = []
    pending = iter(ranks)
    rank = next(pending)
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        while seen >= rank:
            found.append(value_of(index))
            rank = next(pending, total + 1)  # past the last one: never reached
    return found


def merge_into(target: dict[int, int], stored: str | bytes | None) -> None:
    """Add a stored histogram into `target`: JSON text `{"bin": count}` (PostgreSQL, and an
    empty histogram anywhere) or the binary form of `pack` (SQLite)."""
    if not stored or stored == "{}":
        return
    if isinstance(stored, bytes):
        low, counts = unpack(stored)
        for offset, count in enumerate(counts):
            if count:
                target[low + offset] = target.get(low + offset, 0) + count
        return
    for key, count in orjson.loads(stored).items():
        index = int(key)
        target[index] = target.get(index, 0) + int(count)


def unpack(stored: bytes) -> tuple[int, array[int]]:
    """The lowest bin and the counts of every bin from there on, of a `pack`ed histogram."""
    low = int.from_bytes(stored[:4], "little", signed=True)
    counts = array(chr(stored[4]), stored[5:])
    if sys.byteorder != "little":
        counts.byteswap()
    return low, counts


def pack(low: int, counts: array[int]) -> bytes:
    """A histogram as SQLite stores it: the lowest bin (4 bytes), the array's type code, and
    the counts of every bin from there to the highest (~800 bytes for a day, against ~2.7 kB
    of JSON: the rows a commit rewrites stay small, and so do the pages it writes)."""
    if sys.byteorder != "little":
        counts = array(counts.typecode, counts)
        counts.byteswap()
    return low.to_bytes(4, "little", signed=True) + counts.typecode.encode() + counts.tobytes()


def add_counts(
    base: tuple[int, array[int]] | None, delta: dict[int, int], *, in_place: bool = False
) -> tuple[int, array[int]]:
    """A histogram (lowest bin, counts; None when empty) plus `delta`. `base` is left untouched
    unless `in_place` (then its array is added to when the delta's bins fit in it: the SQLite
    writer's own histograms, which it forgets when a transaction fails). The work is in the
    size of the delta, not of the histogram."""
    first, last = min(delta), max(delta)
    if base is None:
        low, counts = first, array("I")
    elif in_place and first >= base[0] and last < base[0] + len(base[1]):
        low, counts = base
    else:
        low, counts = base[0], array(base[1].typecode, base[1])
    if first < low:
        counts = array(counts.typecode, bytes(counts.itemsize * (low - first))) + counts
        low = first
    if last >= low + len(counts):
        counts.extend(
            array(counts.typecode, bytes(counts.itemsize * (last + 1 - low - len(counts))))
        )
    for index, count in delta.items():
        try:
            counts[index - low] += count
        except OverflowError:  # a bin past 2^32 - 1: widen once to 64 bits
            counts = array("Q", counts)
            counts[index - low] += count
    return low, counts


def add_packed(stored: bytes | None, delta: dict[int, int]) -> bytes:
    """`stored` (a `pack`ed histogram, or None) plus `delta`, packed."""
    return pack(*add_counts(unpack(stored) if stored else None, delta))


def is_unpriced(cost_nano: int | None, tokens_in: int | None, tokens_out: int | None) -> bool:
    """An event with tokens but no cost: its model has no known price."""
    return cost_nano is None and (tokens_in is not None or tokens_out is not None)


# What the rollups count of one event: (model or NO_MODEL, tokens in, tokens out, cost in
# nano-dollars, 1 if unpriced else 0, latency bin or None).
Figures = tuple[str, int, int, int, int, int | None]


def figures_of(
    model: str | None,
    tokens_in: int | None,
    tokens_out: int | None,
    cost_nano: int | None,
    latency_ms: float | None,
) -> Figures:
    """An event's figures, as `Rollups.add_events` counts them."""
    return (
        model or NO_MODEL, tokens_in or 0, tokens_out or 0, cost_nano or 0,
        int(is_unpriced(cost_nano, tokens_in, tokens_out)),
        None if latency_ms is None else bin_of(latency_ms),
    )  # fmt: skip


class Counted(Protocol):
    """An event as the rollups see it."""

    @property
    def figures(self) -> Figures:
        """See `figures_of`."""

    @property
    def user_id(self) -> str | None:
        """The end user, if any."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A stored event read back (by `rebuild`)."""

    figures: Figures
    user_id: str | None


@dataclass(slots=True)
class Cell:
    """The counts of one rollup cell (or of a sum of cells: the metrics add them up)."""

    events: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_nano: int = 0
    unpriced: int = 0
    histogram: dict[int, int] = field(default_factory=dict)
    feedback_positive: int = 0
    feedback_negative: int = 0
    sessions: int = 0  # sessions started (counted in the cell of their first event)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Cell:
        """A stored `metric_rollups` row."""
        cell = cls(
            events=int(row["events"]), tokens_in=int(row["tokens_in"]),
            tokens_out=int(row["tokens_out"]), cost_nano=int(row["cost_nano"]),
            unpriced=int(row["unpriced"]), feedback_positive=int(row["feedback_positive"]),
            feedback_negative=int(row["feedback_negative"]), sessions=int(row["sessions"]),
        )  # fmt: skip
        merge_into(cell.histogram, row["latency_hist"])
        return cell

    def add(self, other: Cell) -> None:
        """Add another cell's counts into this one."""
        self.events += other.events
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.cost_nano += other.cost_nano
        self.unpriced += other.unpriced
        self.feedback_positive += other.feedback_positive
        self.feedback_negative += other.feedback_negative
        self.sessions += other.sessions
        for index, count in other.histogram.items():
            self.histogram[index] = self.histogram.get(index, 0) + count


CellKey = tuple[int, int, int, str]  # (project, level, bucket, model)


class _WriterMemory:
    """What the SQLite writer remembers of the database across transactions.

    A transaction stages what it wrote; it becomes current only once the writer has committed
    that transaction (`GroupCommitWriter.commits` moved on by one when the next one begins),
    and is forgotten when it failed, so a rolled-back transaction never leaks into the next."""

    def __init__(self) -> None:
        self._staged_at = -1

    def begin(self, commits: int) -> None:
        """A transaction starts, after `commits` commits of the writer."""
        if commits == self._staged_at + 1:
            self._keep()
        else:
            self._forget()
        self._staged_at = commits

    def _keep(self) -> None:
        """The previous transaction committed: what it staged is now current."""

    def _forget(self) -> None:
        """The previous transaction failed: drop what it staged and what it may have changed."""


class Histograms(_WriterMemory):
    """SQLite: the stored latency histograms of the cells this process wrote lately, decoded.

    A commit then writes each cell's merged histogram whole, without reading it back or merging
    it in SQL (a Python SQL function merging row by row was ~40% of what rollups cost a
    commit). Sound because this process is the database's only writer: the server holds
    `claim_sqlite_writer`'s lock, and `phospho rollups rebuild` refuses to run beside it.
    PostgreSQL (several writers) merges in SQL instead.
    """

    LIMIT = 4096  # cells kept: the current minute, hour and day of every active model

    def __init__(self) -> None:
        super().__init__()
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


_NEVER = 2**63 - 1  # a watermark past every bucket (no rows to fold)
# The watermark of a level as SQL: reads add the fine rows at or after it (none on PostgreSQL).
FOLDED = f"(SELECT COALESCE(MAX(before), {_NEVER}) FROM rollup_folds WHERE level = {{}})"  # noqa: S608


class Folds(_WriterMemory):
    """SQLite: the watermarks of `rollup_folds` as this writer knows them (models/rollup.py);
    after a failed transaction they are read again."""

    def __init__(self) -> None:
        super().__init__()
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
        return self.staged.get(level, self.before.get(level, _NEVER))

    def load(self, now: int) -> Plan[None]:
        """Read the watermarks; a database without them (new, from before folding where every
        level was written by every commit, or whose user rows migration 5 made whole) starts
        them after what is stored (`_first_unfolded`)."""
        if self.before is None:
            rows = yield Query("SELECT level, before FROM rollup_folds", [])
            self.before = {int(row["level"]): int(row["before"]) for row in rows}
        for level in (MINUTE, HOUR):
            if level not in self.before and level not in self.staged:
                start = yield from _first_unfolded(level, now)
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


def _first_unfolded(level: int, now: int) -> Plan[int]:
    """Where a watermark starts: the first bucket of `level` after every stored fine one of
    that level (those are whole at every level already), and not before `now`'s: the bucket
    of `now` itself when nothing of it is stored (a new database then keeps its first minute
    and hour lazily too)."""
    rows = yield Query(_LAST_FINE[level], [])
    last = rows[0]["last"]
    first = now - now % level
    return first if last is None else max(first, int(last) + level)


def _plus(a: Cell, b: Cell) -> Cell:
    total = Cell()
    total.add(a)
    total.add(b)
    return total


def _add_cell(cells: dict[CellKey, Cell], key: CellKey, cell: Cell) -> None:
    """Add `cell` at `key` without changing any Cell object (they may be shared)."""
    found = cells.get(key)
    cells[key] = cell if found is None else _plus(found, cell)


def _add_counts(users: dict[CellKey, list[int]], key: CellKey, counts: list[int]) -> None:
    """Add user counts at `key` without changing any list (they may be shared)."""
    found = users.get(key)
    users[key] = counts if found is None else [a + b for a, b in zip(found, counts, strict=True)]


@dataclass(slots=True)
class Rollups:
    """What one transaction adds to the rollups, accumulated in memory then upserted."""

    # Accumulated at the finest level only (minute; hour for users): every event of a group
    # commit shares its time, so an event costs one cell update; `plan` derives the coarser
    # levels. Keys: (project, bucket start, model or user); user counts are [events, cost,
    # unpriced].
    minutes: dict[tuple[int, int, str], Cell] = field(default_factory=dict)
    hours: dict[tuple[int, int, str], list[int]] = field(default_factory=dict)
    # SQLite: the stored histograms known to this writer (the Ingestor's, kept across commits;
    # by default a new one, which reads every histogram it merges).
    histograms: Histograms = field(default_factory=Histograms)
    # SQLite ingest: fold the fine rows lazily (`Folds`); None writes every level each time.
    folds: Folds | None = None
    now: int = 0  # the commit's time (epoch seconds): which buckets have passed
    fold_everything: bool = False  # fold every fine row now (server stop, rebuild)
    # Set by `prepare` (SQLite ingest): the folded cells to write, and the first hour whose
    # end-user counts go to the end_users rows (`end_user_hour`) instead of user_rollups.
    folded: tuple[dict[CellKey, Cell], dict[CellKey, list[int]]] | None = None
    kept_from: int | None = None
    in_end_users: set[tuple[int, int, str]] = field(default_factory=set)

    def add_events(self, project_id: int, stamp: int, events: Iterable[Counted]) -> None:
        """Count stored events of one project, all stored at `stamp` (epoch seconds).

        The hot loop of the ingest transaction (it runs on the writer thread, once per event):
        the figures come ready from `figures_of`, computed when the request was parsed."""
        minute = stamp - stamp % MINUTE
        hour = stamp - stamp % HOUR
        minutes, hours = self.minutes, self.hours
        for event in events:
            model, tokens_in, tokens_out, cost, unpriced, latency_bin = event.figures
            key = (project_id, minute, model)
            cell = minutes.get(key)
            if cell is None:
                cell = minutes[key] = Cell()
            cell.events += 1
            cell.tokens_in += tokens_in
            cell.tokens_out += tokens_out
            cell.cost_nano += cost
            cell.unpriced += unpriced
            if latency_bin is not None:
                histogram = cell.histogram
                histogram[latency_bin] = histogram.get(latency_bin, 0) + 1
            user_id = event.user_id
            if user_id is None:
                continue
            user_key = (project_id, hour, user_id)
            user = hours.get(user_key)
            if user is None:
                hours[user_key] = [1, cost, unpriced]
            else:
                user[0] += 1
                user[1] += cost
                user[2] += unpriced

    def add_feedback(
        self, project_id: int, at: datetime, model: str | None, score: int, change: int
    ) -> None:
        """Count (change=1) or uncount (change=-1) an event's current feedback, given at `at`."""
        cell = self._minute_cell(project_id, int(at.timestamp()), model or NO_MODEL)
        if score:
            cell.feedback_positive += change
        else:
            cell.feedback_negative += change

    def add_session(self, project_id: int, stamp: int, model: str) -> None:
        """Count a session started by this commit (at `stamp`), in its first event's cell."""
        self._minute_cell(project_id, stamp, model).sessions += 1

    def _minute_cell(self, project_id: int, stamp: int, model: str) -> Cell:
        """The accumulated cell of (project, the minute of `stamp`, model), created empty."""
        key = (project_id, stamp - stamp % MINUTE, model)
        cell = self.minutes.get(key)
        if cell is None:
            cell = self.minutes[key] = Cell()
        return cell

    def cells(self, folded_before: int | None = None) -> dict[CellKey, Cell]:
        """Every level's cells, keyed (project, level, bucket, model). A coarse cell that one
        minute fills is that minute's Cell object itself (the usual case: a commit's events
        share their minute); cells that several minutes fill are new sums. With
        `folded_before`, minutes from then on get their minute cell only (folded later)."""
        cells: dict[CellKey, Cell] = {}
        for (project, minute, model), cell in self.minutes.items():
            cells[(project, MINUTE, minute, model)] = cell  # one per minute key: no sum
            if folded_before is None or minute < folded_before:
                for level in (HOUR, DAY):
                    _add_cell(cells, (project, level, minute - minute % level, model), cell)
        return cells

    def user_cells(self) -> dict[CellKey, list[int]]:
        """Every level's user counts, keyed (project, level, bucket, user), shared like
        `cells`; without the counts handed to the end_users rows (`end_user_hour`)."""
        users: dict[CellKey, list[int]] = {}
        kept = self.in_end_users
        if len(kept) == len(self.hours):  # all of them (the usual case on SQLite)
            return users
        for user_key, counts in self.hours.items():
            if user_key in kept:
                continue
            project, hour, user_id = user_key
            for level in USER_LEVELS:
                _add_counts(users, (project, level, hour - hour % level, user_id), counts)
        return users

    def prepare(self, d: Dialect) -> Plan[None]:
        """SQLite ingest (`folds` set), before the transaction writes anything: read the
        watermarks and fold the fine rows whose bucket has passed (the end users' hours among
        them, which this commit's end_users upsert may replace)."""
        if self.folds is None or d.postgres or self.folded is not None:
            return
        if self.folds.up_to_date(self.now) and not self.fold_everything:
            self.folded = ({}, {})
        else:
            yield from self.folds.load(self.now)
            self.folded = yield from self._fold(self.folds)
        self.kept_from = self.folds.of(HOUR)

    def end_user_hour(self, project_id: int, user_id: str, stamp: int) -> list[int]:
        """An end user's counts in this commit, for its end_users row (`upsert_end_users`):
        [hour, events, cost, unpriced] on SQLite while that hour is not folded (the row is
        written anyway, so keeping them there costs no extra row); else zeros, and `plan`
        writes them to user_rollups."""
        hour = stamp - stamp % HOUR
        user_key = (project_id, hour, user_id)
        counts = self.hours.get(user_key)
        if counts is None or self.kept_from is None or hour < self.kept_from:
            return [0, 0, 0, 0]
        self.in_end_users.add(user_key)
        return [hour, *map(capped, counts)]

    def plan(self, d: Dialect) -> Plan[None]:
        """Upsert everything accumulated (one statement per table and parameter-limit chunk;
        rows in key order, so concurrent PostgreSQL writers lock them in the same order).

        SQLite ingest (`folds` set): this commit's current minute gets its minute cells only,
        and its end users' counts of the current hour went to their end_users rows; what
        `prepare` folded is written with them. Older cells (feedback replacing an old one, a
        clock set back) are written at every level at once."""
        if self.folds is not None and not d.postgres:
            yield from self.prepare(d)
            assert self.folded is not None
            folded_cells, folded_users = self.folded
            cells, users = self.cells(self.folds.of(MINUTE)), self.user_cells()
            for key, cell in folded_cells.items():
                _add_cell(cells, key, cell)
            for user_key, counts in folded_users.items():
                _add_counts(users, user_key, counts)
        else:
            cells, users = self.cells(), self.user_cells()
        if cells:
            encoded: dict[CellKey, str | bytes]
            if d.postgres:  # JSON deltas, merged by the upsert
                encoded = {key: _json(cell.histogram) for key, cell in cells.items()}
            else:  # whole packed histograms
                encoded = yield from self._merged(cells)
            # Sums saturate (store.MAX_SUM): Python's are exact, and capped as they are bound;
            # the upsert adds them to the stored ones without overflow (`_METRIC_TAIL`).
            rows = [
                [*key, capped(c.events), capped(c.tokens_in), capped(c.tokens_out),
                 capped(c.cost_nano), capped(c.unpriced), encoded[key],
                 capped(c.feedback_positive), capped(c.feedback_negative), capped(c.sessions)]
                for key, c in sorted(cells.items())
            ]  # fmt: skip
            yield from insert_rows(
                d, _METRIC_HEAD, _METRIC_ROW, rows, tail=_METRIC_TAIL[d.postgres]
            )
        if users:
            user_rows = [[*key, *map(capped, counts)] for key, counts in sorted(users.items())]
            yield from insert_rows(
                d, _USER_HEAD, "(?, ?, ?, ?, ?, ?, ?)", user_rows, tail=_USER_TAIL[d.postgres]
            )

    def _fold(self, folds: Folds) -> Plan[tuple[dict[CellKey, Cell], dict[CellKey, list[int]]]]:
        """The coarse cells of the fine rows whose bucket has passed (all of them with
        `fold_everything`), read before this commit writes; watermarks moved past them. Minute
        rows go to hour and day rows; end users' hours to user_rollups, hour and day."""
        cells: dict[CellKey, Cell] = {}
        for row in (yield from self._passed(folds, MINUTE, _UNFOLDED_MINUTES)):
            bucket, cell = int(row["bucket"]), Cell.from_row(row)
            for level in (HOUR, DAY):
                key = (int(row["project_id"]), level, bucket - bucket % level, row["model"])
                _add_cell(cells, key, cell)
        users: dict[CellKey, list[int]] = {}
        for row in (yield from self._passed(folds, HOUR, _UNFOLDED_HOURS)):
            bucket = int(row["bucket"])
            counts = [int(row["events"]), int(row["cost_nano"]), int(row["unpriced"])]
            for level in USER_LEVELS:
                key = (int(row["project_id"]), level, bucket - bucket % level, row["user_id"])
                _add_counts(users, key, counts)
        return cells, users

    def _passed(self, folds: Folds, level: int, sql: str) -> Plan[list[dict[str, Any]]]:
        """The not yet folded rows of `level` (`sql`, given the bucket range) whose bucket
        has passed (or all), with the watermark moved past them (never backwards)."""
        start, current = folds.of(level), self.now - self.now % level
        if start >= current and not self.fold_everything:
            return []
        end = _NEVER if self.fold_everything else current
        rows: list[dict[str, Any]] = yield Query(sql, [start, end])
        last = max([current - level, *(int(row["bucket"]) for row in rows)])
        yield from folds.move(level, max(start, last + level))
        return rows

    def _merged(self, cells: dict[CellKey, Cell]) -> Plan[dict[CellKey, str | bytes]]:
        """SQLite: each cell's stored histogram plus this transaction's, packed; stored ones
        this writer does not know are read first (one SELECT)."""
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


def _json(histogram: dict[int, int]) -> str:
    """A histogram delta as PostgreSQL's upsert merges it ('{}' when empty: stored one kept)."""
    return orjson.dumps({str(k): count for k, count in histogram.items()}).decode()


_SUMMED = (
    "events", "tokens_in", "tokens_out", "cost_nano", "unpriced",
    "feedback_positive", "feedback_negative", "sessions",
)  # fmt: skip
_METRIC_HEAD = (
    "INSERT INTO metric_rollups (project_id, level, bucket, model, events, tokens_in, "
    "tokens_out, cost_nano, unpriced, latency_hist, feedback_positive, feedback_negative, "
    "sessions) VALUES"
)
_METRIC_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_UNFOLDED_MINUTES = select(
    "project_id, bucket, model, events, tokens_in, tokens_out, cost_nano, unpriced, "
    "latency_hist, feedback_positive, feedback_negative, sessions",
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


class NoRollups(Rollups):
    """Counts nothing: an Ingestor with rollups off (only to measure what they cost)."""

    def add_events(self, *args: Any) -> None:
        """Ignore the events."""

    def add_feedback(self, *args: Any) -> None:
        """Ignore the feedback."""

    def add_session(self, *args: Any) -> None:
        """Ignore the session."""

    def plan(self, d: Dialect) -> Plan[None]:
        """Write nothing."""
        yield from ()


# The merged histogram. PostgreSQL sums the two JSON objects key by key (several processes may
# write the same row); on SQLite `excluded` already holds the whole merged histogram
# (`Rollups._merged`).
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


# --- Rebuild ----------------------------------------------------------------------------------

REBUILD_CHUNK = 20_000


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
        yield from Rollups(folds=folds, now=now, fold_everything=True).plan(d)
    for table in ("metric_rollups", "user_rollups"):
        yield Query(d.sql(f"DELETE FROM {table} WHERE {scope}"), scope_params)  # noqa: S608
    if not d.postgres:  # PostgreSQL refused what would overflow: nothing there to repair
        report.repaired = yield from _repair_counters(scope, scope_params)
    for project_id in projects:
        yield from _rebuild_events(d, project_id, report)
        yield from _rebuild_sessions(d, project_id, report)
    feedback_scope, _ = _scope(projects, "f.project_id")
    feedback = yield from _latest_feedback(d, feedback_scope, scope_params)
    rollups = Rollups()
    for row in feedback:
        rollups.add_feedback(
            int(row["project_id"]), as_datetime(row["created_at"]), row["model"],
            int(row["score"]), 1,
        )  # fmt: skip
    report.feedback = len(feedback)
    yield from rollups.plan(d)
    if not d.postgres:  # rebuilt rows are whole at every level: none of them is to be folded
        for level in (MINUTE, HOUR):
            past = yield from _first_unfolded(level, now)
            if past > folds.of(level):
                yield from folds.move(level, past)
    return report


def _rebuild_events(d: Dialect, project_id: int, report: RebuildReport) -> Plan[None]:
    """Add one project's events to the rollups, chunk by chunk along its (project, time)
    index, pricing those stored without a cost."""
    after: tuple[Any, Any] | None = None
    while True:
        rows = yield from _event_chunk(d, project_id, after)
        if not rows:
            break
        after = (rows[-1]["created_at"], rows[-1]["id"])
        rollups = Rollups()
        repriced: list[list[Any]] = []
        for row in rows:
            at = as_datetime(row["created_at"])
            cost = row["cost_nano"]
            if is_unpriced(cost, row["tokens_in"], row["tokens_out"]):
                cost = pricing.cost_nano(row["model"], row["tokens_in"], row["tokens_out"], at)
                if cost is not None:
                    repriced.append([row["id"], cost])
            figures = figures_of(
                row["model"], row["tokens_in"], row["tokens_out"], cost, row["latency_ms"]
            )
            rollups.add_events(
                project_id, int(at.timestamp()), (StoredEvent(figures, row["user_id"]),)
            )
        report.events += len(rows)
        report.repriced += len(repriced)
        yield from _set_costs(d, repriced)
        yield from rollups.plan(d)


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
_FIRST_MODEL = (
    "COALESCE((SELECT e.model FROM events e WHERE e.project_id = s.project_id AND "
    "e.session_key = s.session_key AND e.created_at >= s.first_event_at "
    "ORDER BY e.created_at, e.id LIMIT 1), '')"
)


def _rebuild_sessions(d: Dialect, project_id: int, report: RebuildReport) -> Plan[None]:
    """Count one project's sessions as started at their first_event_at, chunk by chunk."""
    after = 0
    while True:
        sql = select(
            f"s.id, s.first_event_at, {_FIRST_MODEL} AS model", "sessions s",
            "s.project_id = ? AND s.id > ?", f"ORDER BY s.id LIMIT {REBUILD_CHUNK}",
        )  # fmt: skip
        rows: list[dict[str, Any]] = yield Query(d.sql(sql), [project_id, after])
        if not rows:
            return
        after = int(rows[-1]["id"])
        rollups = Rollups()
        for row in rows:
            stamp = int(as_datetime(row["first_event_at"]).timestamp())
            rollups.add_session(project_id, stamp, row["model"])
        report.sessions += len(rows)
        yield from rollups.plan(d)


def _event_chunk(
    d: Dialect, project_id: int, after: tuple[Any, Any] | None
) -> Plan[list[dict[str, Any]]]:
    where, values = "project_id = ?", [project_id]
    if after is not None:
        where += " AND (created_at > ? OR (created_at = ? AND id > ?))"
        values += [after[0], after[0], after[1]]
    sql = select(
        "id, project_id, created_at, model, tokens_in, tokens_out, cost_nano, latency_ms, user_id",
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
