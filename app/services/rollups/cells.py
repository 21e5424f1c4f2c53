"""What the rollups count: the levels, one event's figures, and a cell's counts.

A cell is one (project, level, bucket, model) row of `metric_rollups`; end users' cells
(`user_rollups`) are (project, level, bucket, user) keys with [events, cost, unpriced] counts.
Buckets are UTC epoch seconds, multiples of their level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from app.services.rollups.histogram import bin_of, merge_into

MINUTE, HOUR, DAY = 60, 3600, 86400
LEVELS = (MINUTE, HOUR, DAY)  # metric_rollups
USER_LEVELS = (HOUR, DAY)  # user_rollups (finer windows read the events table)

NO_MODEL = ""  # `model` of rollups for events logged without one

CellKey = tuple[int, int, int, str]  # (project, level, bucket, model or user)
UserCounts = list[int]  # an end user's [events, cost in nano-dollars, unpriced events]


def is_unpriced(cost_nano: int | None, tokens_in: int | None, tokens_out: int | None) -> bool:
    """An event with tokens but no cost: its model has no known price."""
    return cost_nano is None and (tokens_in is not None or tokens_out is not None)


class Figures(NamedTuple):
    """What the rollups count of one event (a tuple: `Rollups.add_events` unpacks it per
    event)."""

    model: str  # or NO_MODEL
    tokens_in: int
    tokens_out: int
    cost_nano: int
    unpriced: int  # 1 if unpriced (`is_unpriced`) else 0
    latency_bin: int | None  # `bin_of` the latency, None without one
    error: int = 0  # 1 if the event's status is "error" else 0


def figures_of(
    model: str | None,
    tokens_in: int | None,
    tokens_out: int | None,
    cost_nano: int | None,
    latency_ms: float | None,
    status: str | None = None,
) -> Figures:
    """An event's figures, as `Rollups.add_events` counts them."""
    return Figures(
        model or NO_MODEL, tokens_in or 0, tokens_out or 0, cost_nano or 0,
        int(is_unpriced(cost_nano, tokens_in, tokens_out)),
        None if latency_ms is None else bin_of(latency_ms), int(status == "error"),
    )  # fmt: skip


class Counted(Protocol):
    """An event as the rollups see it."""

    @property
    def figures(self) -> Figures:
        """See `figures_of`."""

    @property
    def user_id(self) -> str | None:
        """The end user, if any."""


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
    errors: int = 0  # events whose status is "error"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Cell:
        """A stored `metric_rollups` row."""
        cell = cls(
            events=int(row["events"]), tokens_in=int(row["tokens_in"]),
            tokens_out=int(row["tokens_out"]), cost_nano=int(row["cost_nano"]),
            unpriced=int(row["unpriced"]), feedback_positive=int(row["feedback_positive"]),
            feedback_negative=int(row["feedback_negative"]), sessions=int(row["sessions"]),
            errors=int(row["errors"]),
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
        self.errors += other.errors
        for index, count in other.histogram.items():
            self.histogram[index] = self.histogram.get(index, 0) + count


def _plus(a: Cell, b: Cell) -> Cell:
    total = Cell()
    total.add(a)
    total.add(b)
    return total


def add_cell(cells: dict[CellKey, Cell], key: CellKey, cell: Cell) -> None:
    """Add `cell` at `key` without changing any Cell object (they may be shared)."""
    found = cells.get(key)
    cells[key] = cell if found is None else _plus(found, cell)


def add_user_counts(users: dict[CellKey, UserCounts], key: CellKey, counts: UserCounts) -> None:
    """Add user counts at `key` without changing any list (they may be shared)."""
    found = users.get(key)
    users[key] = counts if found is None else [a + b for a, b in zip(found, counts, strict=True)]
