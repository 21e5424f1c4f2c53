"""What one transaction adds to the rollups, accumulated in memory (`Rollups`).

The ingest and `rebuild` add events, feedback and sessions here; a `RollupWriter`
(app/services/rollups/writers.py) then upserts the cells they fill. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.services.rollups.cells import (
    DAY,
    HOUR,
    MINUTE,
    NO_MODEL,
    USER_LEVELS,
    Cell,
    CellKey,
    Counted,
    Figures,
    UserCounts,
    add_cell,
    add_user_counts,
)
from app.services.store import NO_USER_HOUR, UserHour, capped


@dataclass(slots=True)
class Rollups:
    """What one transaction adds to the rollups."""

    # Accumulated at the finest level only (minute; hour for users): every event of a group
    # commit shares its time, so an event costs one cell update; `cells` derives the coarser
    # levels. Keys: (project, bucket start, model or user).
    minutes: dict[tuple[int, int, str], Cell] = field(default_factory=dict)
    hours: dict[tuple[int, int, str], UserCounts] = field(default_factory=dict)
    # Set by the SQLite writer's `begin` (app/services/rollups/sqlite.py): the fine rows it
    # folded, to be written with this transaction's cells, and the first hour whose end-user
    # counts go to the end_users rows (`end_user_hour`) instead of user_rollups.
    folded_cells: dict[CellKey, Cell] = field(default_factory=dict)
    folded_users: dict[CellKey, UserCounts] = field(default_factory=dict)
    kept_from: int | None = None
    in_end_users: set[tuple[int, int, str]] = field(default_factory=set)
    # Set when the transaction deletes or changes stored rows (an erasure, a retention sweep):
    # SQLite's writer then counts it as a change of folded hours (`sqlite.SETTLED`).
    changes_settled: bool = False

    def add_events(self, project_id: int, stamp: int, events: Iterable[Counted]) -> None:
        """Count stored events of one project, all stored at `stamp` (epoch seconds).

        The hot loop of the ingest transaction (it runs on the writer thread, once per event):
        the figures come ready from `figures_of`, computed when the request was parsed."""
        minute = stamp - stamp % MINUTE
        hour = stamp - stamp % HOUR
        minutes, hours = self.minutes, self.hours
        for event in events:
            model, tokens_in, tokens_out, cost, unpriced, latency_bin, error = event.figures
            key = (project_id, minute, model)
            cell = minutes.get(key)
            if cell is None:
                cell = minutes[key] = Cell()
            cell.events += 1
            cell.tokens_in += tokens_in
            cell.tokens_out += tokens_out
            cell.cost_nano += cost
            cell.unpriced += unpriced
            cell.errors += error
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

    def add_session(self, project_id: int, stamp: int, model: str, change: int = 1) -> None:
        """Count (change=1) a session started by this commit (at `stamp`), in its first
        event's cell, or uncount it (change=-1: an erased one)."""
        self._minute_cell(project_id, stamp, model).sessions += change

    def remove_event(self, project_id: int, stamp: int, figures: Figures) -> None:
        """Uncount a stored event counted at `stamp` (an erasure): the exact opposite of
        `add_events`, in the same minute cell, so the writer subtracts it at every level
        (and SQLite's writer from the histograms it remembers). The end user's counts are
        not touched: an erasure deletes that user's rows (`forget_user`)."""
        model, tokens_in, tokens_out, cost, unpriced, latency_bin, error = figures
        self.changes_settled = True
        cell = self._minute_cell(project_id, stamp, model)
        cell.events -= 1
        cell.tokens_in -= tokens_in
        cell.tokens_out -= tokens_out
        cell.cost_nano -= cost
        cell.unpriced -= unpriced
        cell.errors -= error
        if latency_bin is not None:
            cell.histogram[latency_bin] = cell.histogram.get(latency_bin, 0) - 1

    def forget_user(self, project_id: int, user_id: str) -> None:
        """Drop what this transaction would write for one end user (its hours, and what the
        SQLite writer folded of its end_users row): the user's rows are being deleted."""
        self.changes_settled = True
        for key in [key for key in self.hours if key[0] == project_id and key[2] == user_id]:
            del self.hours[key]
            self.in_end_users.discard(key)
        folded = self.folded_users
        for user_key in [k for k in folded if k[0] == project_id and k[3] == user_id]:
            del folded[user_key]

    def _minute_cell(self, project_id: int, stamp: int, model: str) -> Cell:
        """The accumulated cell of (project, the minute of `stamp`, model), created empty."""
        key = (project_id, stamp - stamp % MINUTE, model)
        cell = self.minutes.get(key)
        if cell is None:
            cell = self.minutes[key] = Cell()
        return cell

    def end_user_hour(self, project_id: int, user_id: str, stamp: int) -> UserHour:
        """An end user's counts in this commit, for its end_users row (`store.EndUserDelta`):
        on SQLite while that hour is not folded (the row is written anyway, so keeping them
        there costs no extra row); else none, and the writer puts them in user_rollups."""
        hour = stamp - stamp % HOUR
        user_key = (project_id, hour, user_id)
        counts = self.hours.get(user_key)
        if counts is None or self.kept_from is None or hour < self.kept_from:
            return NO_USER_HOUR
        self.in_end_users.add(user_key)
        events, cost, unpriced = counts
        return UserHour(hour, capped(events), capped(cost), capped(unpriced))

    def cells(self, folded_before: int | None = None) -> dict[CellKey, Cell]:
        """Every level's cells, keyed (project, level, bucket, model), with what was folded.
        A coarse cell that one minute fills is that minute's Cell object itself (the usual
        case: a commit's events share their minute); cells that several minutes fill are new
        sums. With `folded_before`, minutes from then on get their minute cell only (folded
        later)."""
        cells: dict[CellKey, Cell] = {}
        for (project, minute, model), cell in self.minutes.items():
            cells[(project, MINUTE, minute, model)] = cell  # one per minute key: no sum
            if folded_before is None or minute < folded_before:
                for level in (HOUR, DAY):
                    add_cell(cells, (project, level, minute - minute % level, model), cell)
        for key, cell in self.folded_cells.items():
            add_cell(cells, key, cell)
        return cells

    def user_cells(self) -> dict[CellKey, UserCounts]:
        """Every level's user counts, keyed (project, level, bucket, user), shared like
        `cells`, with what was folded; without the counts handed to the end_users rows
        (`end_user_hour`)."""
        users: dict[CellKey, UserCounts] = {}
        kept = self.in_end_users
        if len(kept) < len(self.hours):  # not all of them (all: the usual case on SQLite)
            for user_key, counts in self.hours.items():
                if user_key in kept:
                    continue
                project, hour, user_id = user_key
                for level in USER_LEVELS:
                    add_user_counts(users, (project, level, hour - hour % level, user_id), counts)
        for key, counts in self.folded_users.items():
            add_user_counts(users, key, counts)
        return users


class NoRollups(Rollups):
    """Counts nothing: an Ingestor with rollups off (only to measure what they cost)."""

    def add_events(self, *args: Any) -> None:
        """Ignore the events."""

    def add_feedback(self, *args: Any) -> None:
        """Ignore the feedback."""

    def add_session(self, *args: Any) -> None:
        """Ignore the session."""

    def remove_event(self, *args: Any) -> None:
        """Ignore the erased event."""

    def forget_user(self, *args: Any) -> None:
        """Nothing kept to forget."""
