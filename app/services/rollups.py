"""Rollups: the aggregates the metrics read, kept in the ingest transaction.

A group commit adds its events (and feedback) to a `Rollups` accumulator, then `Rollups.plan`
writes one multi-row upsert per table: one row per (level, bucket, model) and per (level,
bucket, end user) the group touched, not one per event. Counters are added in SQL, and latency
histograms are merged in SQL, so concurrent writers (several processes on PostgreSQL) never
lose an update (on SQLite, the only writer, the stored histogram is merged in Python instead).

Latency histograms have logarithmic bins: with G = GAMMA, bin `i` holds the values in
(G^(i-1), G^i] and stands for 2·G^i/(G+1), which is within ALPHA (1.5%) of every value in the
bin, so a percentile read from a histogram is within 1.5% of the value of the exact rank (the
DDSketch construction).

`rebuild` recomputes every rollup from the events and feedback (`phospho rollups rebuild`).
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from app.services import pricing
from app.services.reads_common import IS_LATEST, select
from app.services.store import (
    MAX_PARAMS,
    Dialect,
    Plan,
    Query,
    as_datetime,
    chunks,
    insert_rows,
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
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total - 1e-9))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return value_of(index)
    return value_of(max(histogram))


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


def add_packed(stored: bytes | None, delta: dict[int, int]) -> bytes:
    """`stored` (a `pack`ed histogram, or None) plus `delta`, packed: the work is in the size
    of the delta, not of the histogram."""
    low, counts = unpack(stored) if stored else (min(delta), array("I"))
    first, last = min(delta), max(delta)
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
    return pack(low, counts)


def is_unpriced(cost_nano: int | None, tokens_in: int | None, tokens_out: int | None) -> bool:
    """An event with tokens but no cost: its model has no known price."""
    return cost_nano is None and (tokens_in is not None or tokens_out is not None)


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

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Cell:
        """A stored `metric_rollups` row."""
        cell = cls(
            events=int(row["events"]), tokens_in=int(row["tokens_in"]),
            tokens_out=int(row["tokens_out"]), cost_nano=int(row["cost_nano"]),
            unpriced=int(row["unpriced"]), feedback_positive=int(row["feedback_positive"]),
            feedback_negative=int(row["feedback_negative"]),
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
        for index, count in other.histogram.items():
            self.histogram[index] = self.histogram.get(index, 0) + count


@dataclass(slots=True)
class _UserCell:
    events: int = 0
    cost_nano: int = 0
    unpriced: int = 0

    def add(self, other: _UserCell) -> None:
        self.events += other.events
        self.cost_nano += other.cost_nano
        self.unpriced += other.unpriced


@dataclass(slots=True)
class Rollups:
    """What one transaction adds to the rollups, accumulated in memory then upserted."""

    # Accumulated at the finest level only (minute; hour for users): every event of a group
    # commit shares its time, so an event costs one cell update; `plan` derives the coarser
    # levels. Keys: (project, bucket start, model or user).
    minutes: dict[tuple[int, int, str], Cell] = field(default_factory=dict)
    hours: dict[tuple[int, int, str], _UserCell] = field(default_factory=dict)
    # Every level, filled by `plan`. Keys: (project, level, bucket start, model or user).
    cells: dict[tuple[int, int, int, str], Cell] = field(default_factory=dict)
    users: dict[tuple[int, int, int, str], _UserCell] = field(default_factory=dict)
    packed: dict[tuple[int, int, int, str], bytes] = field(default_factory=dict)  # SQLite

    def add_event(
        self,
        project_id: int,
        at: datetime,
        model: str | None,
        tokens_in: int | None,
        tokens_out: int | None,
        cost_nano: int | None,
        latency_ms: float | None,
        user_id: str | None,
    ) -> None:
        """Count one stored event."""
        stamp = int(at.timestamp())
        unpriced = is_unpriced(cost_nano, tokens_in, tokens_out)
        key = (project_id, stamp - stamp % MINUTE, model or NO_MODEL)
        cell = self.minutes.get(key)
        if cell is None:
            cell = self.minutes[key] = Cell()
        cell.events += 1
        cell.tokens_in += tokens_in or 0
        cell.tokens_out += tokens_out or 0
        cell.cost_nano += cost_nano or 0
        cell.unpriced += unpriced
        if latency_ms is not None:
            latency_bin = bin_of(latency_ms)
            cell.histogram[latency_bin] = cell.histogram.get(latency_bin, 0) + 1
        if user_id is None:
            return
        user_key = (project_id, stamp - stamp % HOUR, user_id)
        user = self.hours.get(user_key)
        if user is None:
            user = self.hours[user_key] = _UserCell()
        user.events += 1
        user.cost_nano += cost_nano or 0
        user.unpriced += unpriced

    def add_feedback(
        self, project_id: int, at: datetime, model: str | None, score: int, change: int
    ) -> None:
        """Count (change=1) or uncount (change=-1) an event's current feedback, given at `at`."""
        stamp = int(at.timestamp())
        key = (project_id, stamp - stamp % MINUTE, model or NO_MODEL)
        cell = self.minutes.get(key)
        if cell is None:
            cell = self.minutes[key] = Cell()
        if score:
            cell.feedback_positive += change
        else:
            cell.feedback_negative += change

    def _expand(self) -> None:
        """Every level's cells from the finest ones."""
        for (project, minute, model), cell in self.minutes.items():
            for level in LEVELS:
                key = (project, level, minute - minute % level, model)
                target = self.cells.get(key)
                if target is None:
                    self.cells[key] = target = Cell()
                target.add(cell)
        for (project, hour, user_id), user in self.hours.items():
            for level in USER_LEVELS:
                user_key = (project, level, hour - hour % level, user_id)
                user_target = self.users.get(user_key)
                if user_target is None:
                    self.users[user_key] = user_target = _UserCell()
                user_target.add(user)

    def plan(self, d: Dialect) -> Plan[None]:
        """Upsert everything accumulated (one statement per table and parameter-limit chunk)."""
        self._expand()
        if self.cells:
            if not d.postgres:
                yield from self._merge_stored_histograms(d)
            rows = [
                [*key, c.events, c.tokens_in, c.tokens_out, c.cost_nano, c.unpriced,
                 self._stored(d, key, c), c.feedback_positive, c.feedback_negative]
                for key, c in sorted(self.cells.items())
            ]  # fmt: skip
            yield from insert_rows(d, _METRIC_HEAD, _METRIC_ROW, rows, tail=_metric_tail(d))
        if self.users:
            user_rows = [
                [*key, u.events, u.cost_nano, u.unpriced] for key, u in sorted(self.users.items())
            ]
            yield from insert_rows(
                d, _USER_HEAD, "(?, ?, ?, ?, ?, ?, ?)", user_rows, tail=_USER_TAIL
            )

    def _merge_stored_histograms(self, d: Dialect) -> Plan[None]:
        """SQLite: add the stored histograms into ours, which the upsert then writes whole.

        Safe because SQLite has one writer and this runs inside its write transaction; merging
        JSON in SQL (as on PostgreSQL, where several processes write) cost ~1 ms per commit.
        Stored histograms are kept compact (`pack`): rewriting large rows doubled the pages,
        hence the WAL bytes and fsync time, of every commit.
        """
        keys = [key for key, cell in self.cells.items() if cell.histogram]
        stored: dict[tuple[int, int, int, str], bytes] = {}
        for part in chunks(keys, MAX_PARAMS // 4):
            marks = ", ".join(["(?, ?, ?, ?)"] * len(part))
            sql = select(
                "project_id, level, bucket, model, latency_hist", "metric_rollups",
                f"(project_id, level, bucket, model) IN (VALUES {marks})",
            )  # fmt: skip
            rows = yield Query(sql, [value for key in part for value in key])
            for row in rows:
                if isinstance(row["latency_hist"], bytes):
                    key = (row["project_id"], row["level"], row["bucket"], row["model"])
                    stored[key] = row["latency_hist"]
        self.packed = {key: add_packed(stored.get(key), self.cells[key].histogram) for key in keys}

    def _stored(self, d: Dialect, key: tuple[int, int, int, str], cell: Cell) -> str | bytes:
        """The histogram as the upsert writes it ('{}' when empty: the stored one is kept)."""
        if not cell.histogram:
            return "{}"
        if d.postgres:  # merged in SQL: JSON
            return orjson.dumps({str(k): count for k, count in cell.histogram.items()}).decode()
        return self.packed[key]


_SUMMED = (
    "events", "tokens_in", "tokens_out", "cost_nano", "unpriced",
    "feedback_positive", "feedback_negative",
)  # fmt: skip
_METRIC_HEAD = (
    "INSERT INTO metric_rollups (project_id, level, bucket, model, events, tokens_in, "
    "tokens_out, cost_nano, unpriced, latency_hist, feedback_positive, feedback_negative) VALUES"
)
_METRIC_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


class NoRollups(Rollups):
    """Counts nothing: an Ingestor with rollups off (only to measure what they cost)."""

    def add_event(self, *args: Any) -> None:
        """Ignore the event."""

    def add_feedback(self, *args: Any) -> None:
        """Ignore the feedback."""

    def plan(self, d: Dialect) -> Plan[None]:
        """Write nothing."""
        yield from ()


# The merged histogram. PostgreSQL sums the two JSON objects key by key (several processes may
# write the same row); on SQLite the plan has already merged the stored one into `excluded`.
_MERGE = {
    False: "excluded.latency_hist",
    True: "(SELECT jsonb_object_agg(key, total)::text FROM (SELECT key, SUM(value::bigint) AS "
    "total FROM (SELECT key, value FROM jsonb_each_text(metric_rollups.latency_hist::jsonb) "
    "UNION ALL SELECT key, value FROM jsonb_each_text(excluded.latency_hist::jsonb)) s "
    "GROUP BY key) t)",
}


def _metric_tail(d: Dialect) -> str:
    sums = ", ".join(f"{col} = metric_rollups.{col} + excluded.{col}" for col in _SUMMED)
    return (
        "ON CONFLICT (project_id, level, bucket, model) DO UPDATE SET "
        f"{sums}, latency_hist = CASE WHEN excluded.latency_hist = '{{}}' "
        "THEN metric_rollups.latency_hist WHEN metric_rollups.latency_hist = '{}' "
        f"THEN excluded.latency_hist ELSE {_MERGE[d.postgres]} END"
    )


_USER_HEAD = (
    "INSERT INTO user_rollups (project_id, level, bucket, user_id, events, cost_nano, unpriced) "
    "VALUES"
)
_USER_TAIL = "ON CONFLICT (project_id, level, bucket, user_id) DO UPDATE SET " + ", ".join(
    f"{col} = user_rollups.{col} + excluded.{col}" for col in ("events", "cost_nano", "unpriced")
)


# --- Rebuild ----------------------------------------------------------------------------------

REBUILD_CHUNK = 20_000


@dataclass(slots=True)
class RebuildReport:
    """What a rebuild did."""

    events: int = 0
    feedback: int = 0
    repriced: int = 0


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
    for table in ("metric_rollups", "user_rollups"):
        yield Query(d.sql(f"DELETE FROM {table} WHERE {scope}"), scope_params)  # noqa: S608
    for project_id in projects:
        yield from _rebuild_events(d, project_id, report)
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
            rollups.add_event(
                int(row["project_id"]), at, row["model"], row["tokens_in"], row["tokens_out"],
                cost, row["latency_ms"], row["user_id"],
            )  # fmt: skip
        report.events += len(rows)
        report.repriced += len(repriced)
        yield from _set_costs(d, repriced)
        yield from rollups.plan(d)


def _scope(projects: list[int], column: str) -> tuple[str, list[Any]]:
    if not projects:
        return "1 = 0", []
    return f"{column} IN ({', '.join('?' * len(projects))})", list(projects)


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
