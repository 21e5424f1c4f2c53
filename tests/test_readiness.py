"""`GET /api/v1/ready` against real servers: each condition is broken for real, from outside
the server (a lock held by another connection, a migration row deleted, connections
terminated and refused by PostgreSQL), and the server recovers once it is repaired.

The writer's death has no way in from outside (nothing a client or the database can do ends
the writer's task, by design): tests/test_readiness_writer.py ends it in-process.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from app.services.readiness import migration_files
from tests.admission_support import Reader, connect, event, request
from tests.harness import PG_ADMIN_URL, Server, require_backend, serving

TIMEOUT = "timeout after 1 s"


def ready(server: Server) -> httpx.Response:
    """One readiness check, timed out well after the route's own 1 s deadline."""
    return httpx.get(server.base_url + "/api/v1/ready", timeout=5)


def wait_for(server: Server, status: int, limit: float = 10.0) -> httpx.Response:
    """Ask until the route answers `status` (or fail with the last answer)."""
    deadline = time.monotonic() + limit
    while True:
        answer = ready(server)
        if answer.status_code == status or time.monotonic() > deadline:
            assert answer.status_code == status, answer.text
            return answer
        time.sleep(0.1)


def not_ready(answer: httpx.Response) -> dict[str, str]:
    """The checks of a 503, after checking its shape."""
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) > 0
    body = answer.json()
    assert body["status"] == "not ready"
    checks: dict[str, str] = body["checks"]
    return checks


def newest_migration(backend: str) -> str:
    """The newest migration file of `backend`'s folder (a migration of one dialect alone,
    such as SQLite's departed_users, has no namesake in the other)."""
    return max(migration_files(backend), key=lambda name: int(name.split("_", 1)[0]))


@pytest.fixture
def srv(backend: str, tmp_path: Path) -> Iterator[Server]:
    """A server of its own (these tests break its database)."""
    with serving(backend, tmp_path) as server:
        yield server


def test_ready_when_all_is_well_and_health_stays_liveness(srv: Server) -> None:
    answer = ready(srv)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready"}
    assert httpx.get(srv.base_url + "/api/v1/health").json() == {"status": "ok"}


def test_a_missing_migration_is_noticed_at_once_and_repaired(srv: Server) -> None:
    """A database taken back to an older schema (here: the newest migration's row deleted
    while the server runs) is not ready until the migration is back."""
    newest = newest_migration(srv.backend)
    srv.query("CREATE TABLE aerich_kept AS SELECT * FROM aerich WHERE version = ?", newest)
    srv.query("DELETE FROM aerich WHERE version = ?", newest)
    checks = not_ready(ready(srv))
    assert checks["migrations"] == f"1 pending: {newest} (run `phospho migrate`)"
    assert checks["database"] == "ok" and checks["writer"] == "ok"
    assert httpx.get(srv.base_url + "/api/v1/health").status_code == 200
    srv.query("INSERT INTO aerich SELECT * FROM aerich_kept")
    assert ready(srv).status_code == 200


def test_sqlite_write_lock_held_elsewhere_makes_it_unready(tmp_path: Path) -> None:
    """Another connection holds SQLite's write lock (a shell left in a transaction, a long
    command): commits would wait, so the writer's connection does not answer within 1 s."""
    with serving("sqlite", tmp_path) as srv:
        other = sqlite3.connect(srv.database_url.split("://", 1)[1], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            answer = ready(srv)
            took = time.monotonic() - started
            checks = not_ready(answer)
            assert checks["database"] == f"writes: {TIMEOUT}"
            assert 0.9 < took < 2.0, took  # the deadline, not the 10 s busy timeout
            assert str(tmp_path) not in answer.text  # no path, no error text
            # Called often meanwhile, it stays as fast (one probe in flight, shared).
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: timed(lambda: ready(srv)), range(16)))
            assert all(a.status_code == 503 for a, _ in answers)
            assert max(t for _, t in answers) < 2.5, answers
            assert httpx.get(srv.base_url + "/api/v1/health").status_code == 200
        finally:
            other.execute("ROLLBACK")
            other.close()
        wait_for(srv, 200, limit=3)


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    """A call's answer and how long it took."""
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def test_ready_is_answered_past_the_in_flight_bound(tmp_path: Path) -> None:
    """Admission control lets readiness through: a server at capacity is not reported
    unready (a load balancer would take every busy server out at once)."""
    with serving("sqlite", tmp_path, PHOSPHO_MAX_IN_FLIGHT="1") as srv:
        tenant = srv.new_tenant()
        body = httpx.Request("POST", "/", json=event()).content
        holder = connect(srv)
        holder.sendall(request(tenant, body[:5], length=len(body)))  # in flight until done
        time.sleep(0.2)
        refused = httpx.post(srv.base_url + "/api/v1/events", json=event(), headers=tenant.headers)
        assert refused.status_code == 503  # the bound holds
        assert ready(srv).status_code == 200
        holder.sendall(body[5:])
        assert Reader(holder).answer().status == 201
        holder.close()


# PostgreSQL: the database named in the URL, reached as the test's admin role.


def admin(server: Server) -> psycopg.Connection[Any]:
    """An autocommit connection as the admin role (to break and repair the server's database)."""
    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


def database_name(server: Server) -> str:
    """The server's database."""
    return server.database_url.rsplit("/", 1)[1]


def allow_connections(server: Server, allowed: bool) -> None:
    """Let new connections into the server's database, or refuse them (superusers too)."""
    with admin(server) as conn:
        conn.execute(f'ALTER DATABASE "{database_name(server)}" WITH ALLOW_CONNECTIONS {allowed!s}')


def terminate(server: Server, where: str = "true") -> int:
    """Terminate the server's backends (those matching `where`); how many."""
    with admin(server) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608 (tests)
            f"WHERE datname = %s AND pid <> pg_backend_pid() AND ({where})",
            (database_name(server),),
        ).fetchall()
    return len(rows)


def test_postgres_table_lock_makes_reads_time_out(tmp_path: Path) -> None:
    """The table the probe reads is locked by another transaction: the query blocks past 1 s."""
    require_backend("postgres")
    with serving("postgres", tmp_path) as srv:
        assert ready(srv).status_code == 200
        with psycopg.connect(srv.database_url) as locker:
            locker.execute("LOCK TABLE aerich IN ACCESS EXCLUSIVE MODE")
            checks = not_ready(ready(srv))
            assert checks["database"] == f"reads: {TIMEOUT}"
            assert checks["migrations"] == "unknown (the database did not answer)"
            assert checks["live"] == "ok" and checks["writer"] == "ok"
            locker.rollback()
        wait_for(srv, 200, limit=3)


def test_postgres_refusing_connections_is_unready_until_it_takes_them(tmp_path: Path) -> None:
    """Every connection of the server terminated and new ones refused (a database going
    down): the pool cannot reconnect, nor can LISTEN; both come back once it is allowed."""
    require_backend("postgres")
    with serving("postgres", tmp_path) as srv:
        assert ready(srv).status_code == 200
        allow_connections(srv, False)
        try:
            assert terminate(srv) >= 2  # the pool's and the LISTEN connection
            # The reads fail at once; the bridge notices its lost LISTEN connection on its own
            # (later, on a loaded machine): ask until both show.
            deadline = time.monotonic() + 10
            while True:
                checks = not_ready(wait_for(srv, 503, limit=3))
                if checks["live"] != "ok" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert checks["database"].startswith("reads: failed ("), checks
            assert checks["live"] == "LISTEN connection down"
            assert "127.0.0.1" not in str(checks) and "postgres" not in str(checks).lower()
        finally:
            allow_connections(srv, True)
        wait_for(srv, 200, limit=10)


def test_postgres_listen_link_down_until_it_reconnects(tmp_path: Path) -> None:
    """Only the LISTEN connection is terminated (found by its statement), and cannot come back
    for a while: 503 naming `live`, the database itself fine; 200 once it has reconnected."""
    require_backend("postgres")
    with serving("postgres", tmp_path) as srv:
        ready(srv)  # the pool now holds the connections the probes use side by side
        assert ready(srv).status_code == 200
        allow_connections(srv, False)
        try:
            assert terminate(srv, "query LIKE 'LISTEN %%'") == 1
            checks = not_ready(wait_for(srv, 503, limit=3))
            assert checks == {
                "database": "ok",
                "migrations": "ok",
                "writer": "ok",
                "live": "LISTEN connection down",
            }
            time.sleep(1.5)  # the bridge retries every second meanwhile
            assert not_ready(ready(srv))["live"] == "LISTEN connection down"
        finally:
            allow_connections(srv, True)
        wait_for(srv, 200, limit=5)
        with admin(srv) as conn:
            listening = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = %s AND query LIKE 'LISTEN %%'",
                (database_name(srv),),
            ).fetchone()
        assert listening == (1,)
