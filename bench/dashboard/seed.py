"""Seeding through the write path (the batch API's `Ingestor.log_events` and `add_feedback`,
rollups included) with the commit clock moving through the last 30 days, then the facts the
pages' URLs need (ids and cursors found in the seeded data)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.db import apply_migrations, close_orm
from app.services.ingest import Ingestor
from app.services.keys import Principal
from app.services.reads import EventFilter, list_end_users, list_events, list_sessions
from app.services.reads_events import event_cursor
from app.services.reads_sessions import SESSIONS, SessionFilter
from bench.dashboard import data
from bench.ingest.procs import PHOSPHO
from bench.metrics.seed import (
    Database,
    HistoryClock,
    _create_pg_database,
    _drop_pg_database,
    bench_principal,
    log,
    running_ingestor,
)

DAYS = 30
PROGRESS_EVERY = 100_000


def tree_env(tree: Path | None) -> dict[str, str]:
    """The environment that makes `phospho` run the code of `tree` (None: this checkout)."""
    return {"PYTHONPATH": str(tree)} if tree is not None else {}


@asynccontextmanager
async def throwaway(postgres_admin: str | None, tree: Path | None) -> AsyncIterator[Database]:
    """An empty database migrated by `tree`'s migrations (None: this checkout's): SQLite in a
    temp dir, or a new PostgreSQL database made from the admin URL; removed on exit."""
    data_dir = Path(tempfile.mkdtemp(prefix="phospho-bench-dash-"))
    url = f"sqlite://{data_dir / 'phospho.sqlite3'}"
    try:
        if postgres_admin:
            url = _create_pg_database(postgres_admin)
        if tree is None:
            await apply_migrations(url)
        else:
            env = {**os.environ, "PHOSPHO_DATABASE_URL": url, "PHOSPHO_DATA_DIR": str(data_dir),
                   **tree_env(tree)}  # fmt: skip
            argv = [str(PHOSPHO), "migrate"]
            await asyncio.to_thread(subprocess.run, argv, env=env, cwd=tree, check=True,
                                    capture_output=True)  # fmt: skip
        yield Database(url, data_dir)
    finally:
        await close_orm()
        if postgres_admin and url.startswith("postgres"):
            _drop_pg_database(postgres_admin, url)
        shutil.rmtree(data_dir, ignore_errors=True)


async def migrate(db: Database) -> float:
    """Apply this checkout's pending migrations (an upgrade); returns the seconds it took."""
    started = time.perf_counter()
    await apply_migrations(db.url)
    await close_orm()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Seeded:
    """What seeding stored and how long it took."""

    project_id: int
    events: int
    feedback: int
    seconds: float


async def _log_all(
    ingestor: Ingestor, principal: Principal, total: int, concurrency: int,
    on_submit: Callable[[int], None],
) -> int:  # fmt: skip
    """Log `total` events in batches, `concurrency` in flight, each batch's feedback after it;
    returns how many feedback entries were stored."""
    starts = iter(range(0, total, data.BATCH))
    counts = {"submitted": 0, "feedback": 0}

    async def worker() -> None:
        for start in starts:
            events = data.batch(start, total)
            counts["submitted"] += len(events)
            mark = counts["submitted"]
            on_submit(mark)
            if mark % PROGRESS_EVERY < len(events):
                log(f"  {mark:>12,} events submitted")
            results = await ingestor.log_events(principal, {"events": events})
            scores = data.feedback_scores(start, len(results))
            await asyncio.gather(*(
                ingestor.add_feedback(principal, str(results[i].event_id), {"score": score})
                for i, score in scores
            ))  # fmt: skip
            counts["feedback"] += len(scores)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return counts["feedback"]


async def seed(db: Database, total: int, concurrency: int) -> Seeded:
    """Seed `total` events whose commit times advance through the last DAYS days."""
    clock = HistoryClock(total, timedelta(days=DAYS))

    def advance(submitted: int) -> None:
        clock.submitted = submitted

    started = time.perf_counter()
    async with running_ingestor(db, clock=clock) as ingestor:
        principal = await bench_principal()
        feedback = await _log_all(ingestor, principal, total, concurrency, advance)
    return Seeded(principal.project_id, total, feedback, time.perf_counter() - started)


async def facts(project_id: int) -> dict[str, str]:
    """What the URL table's placeholders stand for (the ORM must be open): ids of an event,
    a session and end users, and cursors deep in each list (half the history back)."""
    now = datetime.now(UTC)
    middle = now - timedelta(days=DAYS / 2)
    deep_events = await list_events(project_id, first=1, filter=EventFilter(until=middle))
    event = deep_events.items[0]
    deep_sessions = await list_sessions(project_id, first=1, filter=SessionFilter(until=middle))
    session = deep_sessions.items[0]
    users = await list_end_users(project_id, first=100)
    users = await list_end_users(project_id, first=100, after=users.end_cursor)
    heavy = "user-0000"  # the long tail's head: the most events
    typical = users.items[0].id  # one seen recently, 100 down the list
    return {
        "event": str(event.id),
        "event_cursor": event_cursor(event),
        "session": session.id,
        "session_cursor": SESSIONS.cursor(session),
        "user_cursor": users.end_cursor or "",
        "heavy_user": heavy,
        "user": typical,
        "day_since": (middle - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "day_until": middle.strftime("%Y-%m-%dT%H:%M"),
        "custom_since": (now - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
        "rare_word": data.RARE_WORD,
        "common_word": data.COMMON_WORD,
        "rare_tag": data.RARE_TAG,
    }
