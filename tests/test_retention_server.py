"""Retention in a real `phospho serve` (one per database): the lifespan's sweeper deletes
events past `PHOSPHO_RETENTION_DAYS` with their feedback, sessions and end users; and
`phospho retention run` beside it: refused on SQLite (the server's sweeper does the work),
its `--dry-run` allowed; run under the advisory lock on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import BACKENDS, Server, Tenant, serving
from tests.otlp import otlp_build


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend = str(request.param)
    directory = Path(tmp_path_factory.mktemp(f"retention-serve-{backend}"))
    with serving(
        backend, directory, PHOSPHO_RETENTION_DAYS="2", PHOSPHO_RETENTION_SWEEP_SECONDS="0.3"
    ) as srv:
        yield srv


def post(srv: Server, tenant: Tenant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(srv.base_url + path, json=body, headers=tenant.headers, timeout=10)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def age(srv: Server, event_id: str, days: float) -> None:
    """Move a stored event (and its tags) `days` into the past, as if logged then."""
    when = datetime.now(UTC) - timedelta(days=days)
    value: Any = when.isoformat(" ") if srv.backend == "sqlite" else when
    srv.query("UPDATE events SET created_at = ? WHERE id = ?", value, event_id)
    srv.query("UPDATE event_tags SET created_at = ? WHERE event_id = ?", value, event_id)


def count(srv: Server, table: str, project_id: int) -> int:
    return int(srv.query(f"SELECT COUNT(*) FROM {table} WHERE project_id = ?", project_id)[0][0])  # noqa: S608


def wait_for(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the sweeper did not get there in time"
        time.sleep(0.1)


def seed(srv: Server, tenant: Tenant, days: float) -> tuple[str, str]:
    """Two events of user u in session s, the older with feedback and a tag, aged `days`
    and 2 hours; and one of user "lonely" alone in its session, aged `days`. Returns the
    ids of (old, new)."""
    old = post(srv, tenant, "/api/v1/events", {
        "input": "old", "output": "o", "session_id": "s", "user_id": "u", "tags": ["t"],
    })["event_id"]  # fmt: skip
    post(srv, tenant, f"/api/v1/events/{old}/feedback", {"score": 1})
    new = post(srv, tenant, "/api/v1/events", {
        "input": "new", "output": "o", "session_id": "s", "user_id": "u",
    })["event_id"]  # fmt: skip
    # Stored at its own past time (an OpenTelemetry span), as the rollups count it.
    span = otlp_build.chat(**{"session.id": "lonely", "user.id": "lonely"})
    start_ms = int((time.time() - days * 86_400) * 1000)
    response = httpx.post(
        srv.base_url + "/v1/traces",
        content=otlp_build.export([span], base_ms=start_ms),
        headers={**tenant.headers, "Content-Type": "application/x-protobuf"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    age(srv, new, 2 / 24)
    age(srv, old, days)
    return old, new


def test_the_server_sweeps_expired_events_on_its_own(server: Server) -> None:
    tenant = server.new_tenant()
    _, new = seed(server, tenant, 3)  # past the server's 2 days
    project = tenant.project_id
    wait_for(lambda: count(server, "events", project) == 1)
    assert [str(row[0]) for row in server.event_rows(project)] == [new]
    assert count(server, "feedback", project) == 0
    assert count(server, "event_tags", project) == 0
    sessions = server.query(
        "SELECT session_key, event_count FROM sessions WHERE project_id = ?", project
    )
    assert sessions == [("s", 1)]
    users = server.query("SELECT user_id, event_count FROM end_users WHERE project_id = ?", project)
    assert users == [("u", 1)]
    assert "retention: project" in server.log()


def cli(srv: Server, *args: str, days: int) -> subprocess.CompletedProcess[str]:
    """`phospho ARGS` against the server's database, with its own PHOSPHO_RETENTION_DAYS."""
    env = {**srv.env, "PHOSPHO_RETENTION_DAYS": str(days)}
    command = [sys.executable, "-m", "app.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_the_cli_beside_a_running_server(server: Server) -> None:
    tenant = server.new_tenant()
    seed(server, tenant, 1.5)  # inside the server's 2 days, past the CLI's 1 day
    name = server.query("SELECT name FROM projects WHERE id = ?", tenant.project_id)[0][0]
    expired = "2 events, 1 feedback, 1 tags, 1 sessions, 1 end_users"
    dry = cli(server, "retention", "run", "--project", name, "--dry-run", days=1)
    assert (dry.returncode, dry.stderr) == (0, "")
    assert "would delete" in dry.stdout and expired in dry.stdout
    assert count(server, "events", tenant.project_id) == 3  # a dry run deletes nothing
    run = cli(server, "retention", "run", "--project", name, days=1)
    if server.backend == "sqlite":  # the server is the one writer: refused, nothing deleted
        assert run.returncode == 1
        assert "its sweeper applies the retention windows" in run.stderr
        assert "--dry-run" in run.stderr
        assert count(server, "events", tenant.project_id) == 3
        server.stop()  # once the server is stopped, the command runs
        try:
            run = cli(server, "retention", "run", "--project", name, days=1)
        finally:
            server.start()
    # PostgreSQL: the CLI sweeps beside the server, under the sweepers' advisory lock. While
    # the server's own pass holds it (a pass can take seconds on a loaded machine), the CLI
    # says so and asks to try again later: what an operator would do, here every 0.5 s.
    for _ in range(60):
        if run.returncode != 1 or "another process is sweeping now" not in run.stderr:
            break
        time.sleep(0.5)
        run = cli(server, "retention", "run", "--project", name, days=1)
    assert run.returncode == 0, run.stderr
    assert "deleted" in run.stdout and expired in run.stdout
    assert count(server, "events", tenant.project_id) == 1
