"""Factories for the in-process tests (the ORM and an Ingestor in the test's own event loop):
a fresh migrated database, a project with a key as the ingest routes see it.

Tests against a real `phospho serve` process use tests/harness.py instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from app.db import apply_migrations, close_orm, init_orm
from app.services import rollups
from app.services.ingest import Ingestor
from app.services.keys import Principal, create_api_key
from app.services.projects import get_or_create_project
from app.services.write_backends import write_backend_for
from app.settings import Settings
from tests.harness import create_pg_database, drop_pg_database


@asynccontextmanager
async def fresh_database(
    backend: str, directory: Path, ingestor: Ingestor | None = None
) -> AsyncIterator[str]:
    """A new database of `backend` (SQLite in `directory`), migrated, with the ORM open and
    `ingestor` (if any) running on it; yields its URL. After the block: the ingestor stopped,
    the ORM closed, a PostgreSQL database dropped."""
    url = (
        f"sqlite://{directory / 'phospho.sqlite3'}" if backend == "sqlite" else create_pg_database()
    )
    try:
        await apply_migrations(url)
        await init_orm(Settings(database_url=url, data_dir=directory))
        if ingestor is not None:
            await ingestor.start(write_backend_for(url))
        yield url
    finally:
        if ingestor is not None:
            await ingestor.stop()
        await close_orm()
        if backend == "postgres":
            drop_pg_database(url)


async def new_principal(project_name: str) -> Principal:
    """A new API key of the named project (created if needed), as the ingest routes see it."""
    project = await get_or_create_project(project_name)
    key = await create_api_key(project.id)
    return Principal(key_id=key.key.id, project_id=project.id)


def assert_every_level_counts(rows: list[dict[str, Any]], latencies: list[float]) -> None:
    """`rows` (level, events, latency_hist of one project's metric_rollups) hold every level,
    each counting exactly `latencies`: as many events, the same latency histogram."""
    want: dict[int, int] = {}
    for value in latencies:
        want[rollups.bin_of(value)] = want.get(rollups.bin_of(value), 0) + 1
    assert sorted(row["level"] for row in rows) == list(rollups.LEVELS)
    for row in rows:
        got: dict[int, int] = {}
        rollups.merge_into(got, row["latency_hist"])
        assert (row["events"], got) == (len(latencies), want)
