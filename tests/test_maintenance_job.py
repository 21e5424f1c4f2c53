"""Maintenance writes (`Ingestor.maintain`, a `MaintenanceJob`): a retention chunk or an
erasure runs inside the writer's transaction, after the group's events, on SQLite and
PostgreSQL; its plan's value is its answer, and a failing one fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from app.errors import Internal, NotFound
from app.services.ingest import Ingestor
from app.services.ingest_jobs import MaintenanceJob
from app.services.keys import Principal
from app.services.rollups import Rollups
from app.services.sql import Dialect
from app.services.store import Plan, Query
from tests.factories import fresh_database, new_principal
from tests.harness import BACKENDS


@dataclass
class Db:
    ingestor: Ingestor
    key: Principal


@pytest.fixture(scope="module", params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Db]:
    backend = str(request.param)
    ingestor = Ingestor()
    async with fresh_database(backend, tmp_path_factory.mktemp(f"chore-{backend}"), ingestor):
        yield Db(ingestor, await new_principal(f"chore-{backend}"))


def _count_events(project_id: int) -> Any:
    def plan(d: Dialect, rollups: Rollups, now: datetime) -> Plan[int]:
        rows = yield Query(
            d.sql("SELECT COUNT(*) AS n FROM events WHERE project_id = ?"), [project_id]
        )
        return int(rows[0]["n"])

    return plan


def _missing(d: Dialect, rollups: Rollups, now: datetime) -> Plan[int | NotFound]:
    yield Query(d.sql("SELECT 1"), [])
    return NotFound("no such end user")  # a refusal is returned, before anything is written


def _broken(d: Dialect, rollups: Rollups, now: datetime) -> Plan[int]:
    yield Query(d.sql("DELETE FROM events"), [])
    yield Query(d.sql("SELECT no_such_column FROM events"), [])  # a fault: rolled back
    return 0


async def test_a_maintenance_job_runs_after_the_events_of_its_group(db: Db) -> None:
    project = db.key.project_id
    before = await db.ingestor.maintain(MaintenanceJob(project, _count_events(project), "count"))
    body = {"input": "in", "output": "out"}
    # Queued together: one transaction, the events first, so the count sees them.
    *_, counted = await asyncio.gather(
        db.ingestor.log_event(db.key, body),
        db.ingestor.log_event(db.key, body),
        db.ingestor.maintain(MaintenanceJob(project, _count_events(project), "count")),
    )
    assert counted == before + 2


@pytest.mark.parametrize("plan, error", [(_missing, NotFound), (_broken, Internal)])
async def test_a_failing_maintenance_job_fails_alone(db: Db, plan: Any, error: type) -> None:
    project = db.key.project_id
    before = await db.ingestor.maintain(MaintenanceJob(project, _count_events(project), "count"))
    stored, failed = await asyncio.gather(
        db.ingestor.log_event(db.key, {"input": "kept", "output": "out"}),
        db.ingestor.maintain(MaintenanceJob(project, plan, "failing")),
        return_exceptions=True,
    )
    assert isinstance(failed, error)
    assert not isinstance(stored, BaseException)
    after = await db.ingestor.maintain(MaintenanceJob(project, _count_events(project), "count"))
    assert after == before + 1  # the neighbour stored; the broken job's DELETE rolled back
