"""How a transaction's rollups reach the database, chosen once per dialect (`rollup_writer_for`),
as `WriteBackend` is chosen once for the writes themselves.

A plan calls `begin` before it writes anything, adds to the `Rollups` it gets, then calls
`write`. The group-commit writer tells the rollup writer how each transaction ended
(`committed`, `rolled_back`: `writer.TransactionHook`); only SQLite's remembers anything.
PostgreSQL, where several processes write, writes every level of both tables in every commit
and merges the JSON histograms in SQL; SQLite folds lazily (app/services/rollups/sqlite.py).
"""

from __future__ import annotations

from typing import Protocol

import orjson

from app.services.rollups.accumulate import NoRollups, Rollups
from app.services.rollups.sqlite import Folds, SqliteRollups
from app.services.rollups.upsert import upsert
from app.services.sql import POSTGRES, Dialect
from app.services.store import Plan


class RollupWriter(Protocol):
    """Writes what each transaction accumulated to the rollup tables."""

    def begin(self, now: int, *, fold_everything: bool = False) -> Plan[Rollups]:
        """A transaction (stamped `now`, epoch seconds) starts: its accumulator."""

    def write(self, rollups: Rollups) -> Plan[None]:
        """Upsert what `rollups` holds (one statement per table and parameter-limit chunk)."""

    def committed(self) -> None:
        """The writer committed the transaction."""

    def rolled_back(self) -> None:
        """The writer rolled the transaction back (or a trial run ended)."""


class PostgresRollups:
    """Every level of both tables in every commit; histograms as JSON deltas, merged by the
    upsert. Remembers nothing between transactions."""

    def begin(self, now: int, *, fold_everything: bool = False) -> Plan[Rollups]:
        """A new accumulator (nothing to fold)."""
        yield from ()
        return Rollups()

    def write(self, rollups: Rollups) -> Plan[None]:
        """Upsert every level of what `rollups` holds."""
        cells = rollups.cells()
        deltas = {key: _json(cell.histogram) for key, cell in cells.items()}
        yield from upsert(POSTGRES, cells, deltas, rollups.user_cells())

    def committed(self) -> None:
        """Nothing remembered."""

    def rolled_back(self) -> None:
        """Nothing remembered."""


class NoRollupWriter:
    """Counts and writes nothing: an Ingestor with rollups off (only to measure their cost)."""

    def begin(self, now: int, *, fold_everything: bool = False) -> Plan[Rollups]:
        """An accumulator that ignores what it is given."""
        yield from ()
        return NoRollups()

    def write(self, rollups: Rollups) -> Plan[None]:
        """Write nothing."""
        yield from ()

    def committed(self) -> None:
        """Nothing remembered."""

    def rolled_back(self) -> None:
        """Nothing remembered."""


def rollup_writer_for(d: Dialect, *, lazy: bool = False) -> RollupWriter:
    """The rollup writer of a dialect. `lazy` (the ingest, on SQLite): fine rows are folded
    when their bucket has passed (`Folds`) rather than written at every level."""
    if d.postgres:
        return PostgresRollups()
    return SqliteRollups(Folds() if lazy else None)


def _json(histogram: dict[int, int]) -> str:
    """A histogram delta as PostgreSQL's upsert merges it ('{}' when empty: stored one kept)."""
    return orjson.dumps({str(k): count for k, count in histogram.items()}).decode()
