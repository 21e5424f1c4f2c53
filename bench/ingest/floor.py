"""--floor: what SQLite alone costs per event under phospho's schema, the ingest's ceiling.

The benchmark's events go into a copy of a migrated database by the write path's own
multi-row INSERT (`store.insert_events`: every index of `events` and the search index's
triggers fire), in transactions of 1, 16 and 100 events, on a connection set up like the
writer's (WAL, synchronous=FULL, statement journals in memory), pinned to the servers' core.
The figure is the inserting thread's CPU per event, BEGIN to COMMIT (its fsync included).
Other copies say what the schema's parts cost: one without the search index (its insert
trigger dropped), one whose search index keeps no positions (FTS5 detail=none), one without
the secondary indexes of `events` (all but the pk and the (project, created_at, id) index).
The commit's other statements (sessions, end users, rollups, the key check) and all of the
Python come on top: a server storing N events/s on one core needs at least N times the first
column of CPU for this alone. Measured here (issue 24): 42-44 µs an event in batches of 100,
so batches of 100 cannot reach 40,000 events/s on one core with this schema (~23,000 at most
for the INSERT alone); the search index is about half of it.

With --postgres the same INSERT goes to a throwaway PostgreSQL database over asyncpg, and the
figure is the server backend's CPU (from /proc) plus the client's, per event; the variants
drop the search index's GIN index, then its generated `search_vector` column. Measured here:
~200 µs an event in batches of 100 as stored, ~30 without `search_vector`, of which computing
the column is ~150 and the GIN index ~35: the PostgreSQL ingest's ceiling is its search column.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.services.ingest_jobs import prepare_event
from app.services.sql import POSTGRES, SQLITE
from app.services.store import EventRow, insert_events
from app.services.validation import validate_event
from bench.ingest import payload
from bench.ingest.procs import SERVER_CORE, create_key

SIZES = (1, 16, 100)
EVENTS = {1: 1_500, 16: 8_000, 100: 20_000}  # per size: ~1-3 s each
KEPT_INDEX = ["project_id", "created_at", "id"]  # the events list's own index stays


def _without_search(conn: sqlite3.Connection) -> None:
    conn.execute("DROP TRIGGER events_search_insert")


def _search_detail_none(conn: sqlite3.Connection) -> None:
    """The search index without positions (FTS5 detail=none): words and prefixes still
    match, phrases and per-column filters would not; what bm25 then ranks by is for the
    reads to judge."""
    conn.execute("DROP TABLE event_search")
    conn.execute(
        "CREATE VIRTUAL TABLE event_search USING fts5(input, output, content='', "
        'tokenize="unicode61 remove_diacritics 0", detail=none)'
    )


def _without_secondary_indexes(conn: sqlite3.Connection) -> None:
    names = [row[0] for row in conn.execute("SELECT name FROM pragma_index_list('events')")]
    for name in names:
        info = conn.execute("SELECT name FROM pragma_index_info(?)", [name])
        columns = [row[0] for row in info]
        if not name.startswith("sqlite_autoindex") and columns != KEPT_INDEX:
            conn.execute(f'DROP INDEX "{name}"')


VARIANTS: dict[str, Callable[[sqlite3.Connection], None] | None] = {
    "as stored": None,
    "without search index": _without_search,
    "search detail=none": _search_detail_none,
    "without 2ary indexes": _without_secondary_indexes,
}


def _rows(project_id: int, count: int, size: int) -> list[list[EventRow]]:
    """`count` of the benchmark's events as rows, in transactions of `size` whose rows share
    one time (as a group commit's do)."""
    transactions = []
    for start in range(0, count, size):
        now = datetime.now(UTC)
        rows = []
        for n in range(start, min(start + size, count)):
            event = prepare_event(validate_event(payload.event(n)), ("body",), now)
            typed = event.typed
            row = EventRow(
                event.id, project_id, event.session_key, event.user_id, event.input,
                event.output, event.metadata_json, typed.model, typed.tokens_in,
                typed.tokens_out, typed.latency_ms, event.cost_nano, None, None, now,
            )  # fmt: skip
            rows.append(row)
        transactions.append(rows)
    return transactions


def _insert(conn: sqlite3.Connection, transactions: list[list[EventRow]]) -> float:
    """CPU seconds of this thread for the transactions."""
    started = time.thread_time()
    for rows in transactions:
        conn.execute("BEGIN IMMEDIATE")
        plan = insert_events(SQLITE, rows)
        try:
            query = next(plan)
            while True:
                conn.execute(query.sql, query.params)
                query = plan.send([])
        except StopIteration:
            pass
        conn.execute("COMMIT")
    return time.thread_time() - started


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "temp_store=MEMORY"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def measure(workdir: Path) -> dict[str, dict[int, float]]:
    """µs of CPU per event, by variant and transaction size."""
    create_key(workdir / "data")
    source = workdir / "data" / "phospho.sqlite3"
    os.sched_setaffinity(0, {int(SERVER_CORE)})
    figures: dict[str, dict[int, float]] = {}
    for variant, change in VARIANTS.items():
        figures[variant] = {}
        for size in SIZES:
            copy = workdir / f"floor-{size}.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
            shutil.copy(source, copy)
            conn = _connect(copy)
            if change is not None:
                change(conn)
            project_id = conn.execute("SELECT id FROM projects").fetchone()[0]
            warm_up = max(size, EVENTS[size] // 10)
            transactions = _rows(project_id, warm_up + EVENTS[size], size)
            _insert(conn, transactions[: warm_up // size])
            cpu = _insert(conn, transactions[warm_up // size :])
            conn.close()
            figures[variant][size] = 1e6 * cpu / EVENTS[size]
    return figures


def describe(figures: dict[str, dict[int, float]], database: str = "SQLite") -> str:
    """The printed table."""
    where = "backend + client" if database == "PostgreSQL" else "pinned to core " + SERVER_CORE
    out = [
        f"{database} floor: CPU per event of the events INSERT alone (BEGIN..COMMIT, its sync "
        f"included), {where}",
        "events per commit | " + " | ".join(f"{name:>20}" for name in figures),
    ]
    for size in SIZES:
        cells = " | ".join(f"{figures[name][size]:>17.1f} µs" for name in figures)
        out.append(f"{size:>17} | {cells}")
    return "\n".join(out)


PG_VARIANTS: dict[str, str | None] = {
    "as stored": None,
    "without GIN index": (
        "DO $$ DECLARE i text; BEGIN FOR i IN SELECT indexname FROM pg_indexes WHERE "
        "tablename = 'events' AND indexdef ILIKE '%using gin%' LOOP "
        "EXECUTE 'DROP INDEX ' || quote_ident(i); END LOOP; END $$"
    ),
    "without search column": "ALTER TABLE events DROP COLUMN search_vector",
}


def measure_postgres(workdir: Path, admin_url: str) -> dict[str, dict[int, float]]:
    """µs of CPU (backend + client) per event on PostgreSQL, by variant and size."""
    from bench.metrics.seed import _create_pg_database, _drop_pg_database

    figures: dict[str, dict[int, float]] = {}
    for variant, change in PG_VARIANTS.items():
        figures[variant] = {}
        for size in SIZES:
            url = _create_pg_database(admin_url)
            try:
                create_key(workdir / f"pg-{variant}-{size}", url)
                figures[variant][size] = asyncio.run(_insert_postgres(url, change, size))
            finally:
                _drop_pg_database(admin_url, url)
    return figures


async def _insert_postgres(url: str, change: str | None, size: int) -> float:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        if change is not None:
            await conn.execute(change)
        project_id = await conn.fetchval("SELECT id FROM projects")
        backend = Path(f"/proc/{await conn.fetchval('SELECT pg_backend_pid()')}/stat")
        warm_up = max(size, EVENTS[size] // 10)
        transactions = _rows(project_id, warm_up + EVENTS[size], size)
        for rows in transactions[: warm_up // size]:
            await _insert_one(conn, rows)
        server, client = _cpu_of(backend), time.thread_time()
        for rows in transactions[warm_up // size :]:
            await _insert_one(conn, rows)
        cpu = _cpu_of(backend) - server + time.thread_time() - client
    finally:
        await conn.close()
    return 1e6 * cpu / EVENTS[size]


async def _insert_one(conn: Any, rows: list[EventRow]) -> None:
    async with conn.transaction():
        plan = insert_events(POSTGRES, rows)
        try:
            query = next(plan)
            while True:
                await conn.execute(query.sql, *query.params)
                query = plan.send([])
        except StopIteration:
            pass


def _cpu_of(stat: Path) -> float:
    """User + system CPU seconds of a process (the PostgreSQL backend)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
