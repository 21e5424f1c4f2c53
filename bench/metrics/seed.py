"""A throwaway database, a project and key, and seeding through the batch service."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.db import apply_migrations, close_orm, init_orm
from app.services.ingest import Ingestor
from app.services.keys import Principal, create_api_key
from app.services.projects import get_or_create_project
from app.services.write_backends import write_backend_for
from app.settings import Settings
from bench.metrics import data

PROJECT = "bench"
PROGRESS_EVERY = 100_000


def log(message: str) -> None:
    """Progress goes to stderr; the report goes to stdout."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Database:
    """A throwaway database: its URL and a data directory (secret key, logs)."""

    url: str
    data_dir: Path

    @property
    def settings(self) -> Settings:
        """Settings pointing at this database."""
        return Settings(database_url=self.url, data_dir=self.data_dir)


@asynccontextmanager
async def throwaway_database(postgres_admin: str | None) -> AsyncIterator[Database]:
    """A migrated empty database (SQLite in a temp dir, or a new PostgreSQL database created
    from the admin URL), removed on exit."""
    data_dir = Path(tempfile.mkdtemp(prefix="phospho-bench-metrics-"))
    url = f"sqlite://{data_dir / 'phospho.sqlite3'}"
    try:
        if postgres_admin:
            url = _create_pg_database(postgres_admin)
        await apply_migrations(url)
        yield Database(url, data_dir)
    finally:
        await close_orm()
        if postgres_admin and url.startswith("postgres"):  # created
            _drop_pg_database(postgres_admin, url)
        shutil.rmtree(data_dir, ignore_errors=True)


@asynccontextmanager
async def running_ingestor(db: Database, **options: Any) -> AsyncIterator[Ingestor]:
    """The ORM open on `db` and an Ingestor writing to it (`options` go to Ingestor)."""
    await init_orm(db.settings)
    ingestor = Ingestor(**options)
    await ingestor.start(write_backend_for(db.url))
    try:
        yield ingestor
    finally:
        await ingestor.stop()
        await close_orm()


async def bench_principal() -> Principal:
    """The bench project's API key, as the ingest routes see it (the ORM must be open)."""
    project = await get_or_create_project(PROJECT)
    key = await create_api_key(project.id)
    return Principal(key_id=key.key.id, project_id=project.id)


class HistoryClock:
    """Commit times for seeding: the share of events submitted so far, spread over `span`
    ending at `end` (so the last batch commits just before the benchmark's "now")."""

    def __init__(self, total: int, span: timedelta, end: datetime | None = None) -> None:
        self.total = max(total, 1)
        self.end = end or datetime.now(UTC)
        self.span = span
        self.submitted = 0

    def __call__(self) -> datetime:
        share = min(self.submitted, self.total) / self.total
        return self.end - self.span * (1 - share)


@dataclass(frozen=True)
class Seeded:
    """What seeding stored and how long it took."""

    project_id: int
    events: int
    feedback: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        """Events stored per second of wall time (feedback included in the time)."""
        return self.events / self.seconds if self.seconds else 0.0


async def seed(
    ingestor: Ingestor,
    principal: Principal,
    batches: Iterable[list[dict[str, Any]]],
    concurrency: int,
    on_submit: Callable[[int], None] = lambda _: None,
) -> Seeded:
    """Log each batch with log_events, `concurrency` batches in flight, then feedback on a few
    % of its events; `on_submit(n)` runs as the batch that brings the total to n is submitted
    (the history clock advances with it)."""
    pending = iter(batches)
    submitted = feedback = 0

    async def worker() -> None:
        nonlocal submitted, feedback
        for events in pending:
            submitted += len(events)
            mark = submitted  # `submitted` moves on while this batch waits for its commit
            on_submit(mark)
            if mark % PROGRESS_EVERY < len(events):
                log(f"  {mark:>12,} events submitted")
            results = await ingestor.log_events(principal, {"events": events})
            scores = data.feedback_scores(mark, len(results))
            await asyncio.gather(*(
                ingestor.add_feedback(principal, str(results[index].event_id), {"score": score})
                for index, score in scores
            ))  # fmt: skip
            feedback += len(scores)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return Seeded(principal.project_id, submitted, feedback, seconds)


async def seed_history(db: Database, total: int, concurrency: int, days: int) -> Seeded:
    """Seed `total` events whose commit times advance through the last `days` days."""
    clock = HistoryClock(total, timedelta(days=days))

    def advance(submitted: int) -> None:
        clock.submitted = submitted

    async with running_ingestor(db, clock=clock) as ingestor:
        principal = await bench_principal()
        batches = (data.batch(start, total) for start in range(0, total, data.BATCH))
        return await seed(ingestor, principal, batches, concurrency, advance)


def settle_postgres(url: str) -> None:
    """VACUUM ANALYZE a seeded PostgreSQL database: what autovacuum does on a server that has
    been running (right after a bulk load, index-only scans still visit the heap, and the
    overview's counts took ~2x longer)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _create_pg_database(admin_url: str) -> str:
    import psycopg

    name = "phospho_bench_" + secrets.token_hex(6)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
