"""`GET /api/v1/ready` when the group-commit writer is dead, in-process.

Nothing a client or the database can do from outside ends the writer (its failures become
answers, by design: app/services/writer.py), so these tests reach inside a running app: they
end the writer's task as a bug would, or close the SQLite writer's own connection, and check
what the route and a write then answer. The other conditions are broken from outside, against
real servers, in tests/test_readiness.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.factory import create_app
from app.services.keys import create_api_key
from app.services.projects import get_or_create_project
from app.settings import Settings


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    """A started app on a fresh SQLite database, a client for it, and an API key."""
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite://{tmp_path / 'phospho.sqlite3'}")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        key = (await create_api_key((await get_or_create_project("ready")).id)).secret
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://phospho") as http:
            yield app, http, key


async def log_event(http: httpx.AsyncClient, key: str) -> httpx.Response:
    """One event through the REST route."""
    body = {"input": "q", "output": "a"}
    headers = {"Authorization": f"Bearer {key}"}
    return await asyncio.wait_for(http.post("/api/v1/events", json=body, headers=headers), 5)


async def test_a_dead_writer_task_makes_it_unready_and_writes_fail_fast(
    client: tuple[FastAPI, httpx.AsyncClient, str],
) -> None:
    app, http, key = client
    assert (await log_event(http, key)).status_code == 201
    assert (await http.get("/api/v1/ready")).status_code == 200
    task: Any = app.state.ingestor.writer._task  # the writer's task, as a bug would end it
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    answer = await http.get("/api/v1/ready")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"database": "ok", "migrations": "ok", "writer": "stopped"}
    # A write is refused at once (503, retry) rather than waiting forever for a dead writer.
    refused = await log_event(http, key)
    assert refused.status_code == 503 and "retry-after" in refused.headers


async def test_the_sqlite_writers_lost_connection_makes_it_unready(
    client: tuple[FastAPI, httpx.AsyncClient, str],
) -> None:
    app, http, _ = client
    backend: Any = app.state.ingestor.writer._backend
    await backend._call(backend._close)  # on the writer thread, as the connection's loss
    answer = await http.get("/api/v1/ready")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["database"] == "writes: failed (ProgrammingError)", checks
    assert checks["writer"] == "ok"  # its task runs; its connection does not answer
