"""`phospho serve` with a fault planted in the write path, for test_poison_pill.py.

Validation refuses everything the database cannot store, so no client can make a write fail in
the database any more. To test the writer's defence behind it, events whose input is one of the
markers below get, after validation, a value the database refuses: an integer past 64 bits
(refused while binding, by sqlite3 and asyncpg alike), or a NUL in the text (refused by
PostgreSQL itself, which aborts the whole transaction: what failing GraphQL jobs did before;
SQLite stores a NUL, so there this poison is the integer too).
Run as `python -m tests.reliability.poison_server serve --port N`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime

from app import cli
from app.services import ingest
from app.services.store import EventRow
from app.settings import Settings

POISON_INT = "poison: an integer past 64 bits"
POISON_NUL = "poison: a NUL in the text"
Row = Callable[[int, ingest.PreparedEvent, datetime], EventRow]


def poisoned(real: Row, postgres: bool) -> Row:
    """`ingest._event_row` (`real`) with the fault planted."""

    def row(project_id: int, event: ingest.PreparedEvent, now: datetime) -> EventRow:
        values = real(project_id, event, now)
        if event.input == POISON_NUL and postgres:
            return values._replace(input="nul\x00")
        if event.input in (POISON_INT, POISON_NUL):
            return values._replace(tokens_in=2**64)
        return values

    return row


if __name__ == "__main__":
    ingest._event_row = poisoned(ingest._event_row, not Settings().is_sqlite)  # type: ignore[assignment]
    sys.exit(cli.main())
