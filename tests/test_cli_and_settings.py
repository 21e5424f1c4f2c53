"""The `phospho` command, settings and their documentation, and the fixed repository layout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.services.rollups import merge_into
from app.settings import Settings
from tests.harness import (
    BACKENDS,
    PG_ADMIN_URL,
    REPO,
    Server,
    create_pg_database,
    drop_pg_database,
    make_server,
    start_server,
)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [
        f"PHOSPHO_{name.upper()}"
        for name in Settings.model_fields
        if not re.search(rf"`PHOSPHO_{name.upper()}`", readme)
    ]
    assert not missing, f"settings missing from the README's settings table: {missing}"


def test_every_setting_has_a_description() -> None:
    assert all(field.description for field in Settings.model_fields.values())


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).ensure_secret_key()
    second = Settings(data_dir=tmp_path).ensure_secret_key()
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path, secret_key="explicit").ensure_secret_key() == "explicit"


def test_graphql_folder_holds_no_python() -> None:
    # A package named `graphql` at the root would shadow graphql-core (see DESIGN.md).
    folder = REPO / "graphql"
    assert not list(folder.rglob("*.py")) if folder.exists() else True


def test_top_level_layout_is_the_fixed_one() -> None:
    allowed = {
        "pyproject.toml", "app", "graphql", "models", "web", "migrations", "tests", "sdks",
        "bench", "README.md", "Makefile", "scripts", ".ci", ".gitignore", "docs",
    }  # fmt: skip
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    top = {path.split("/", 1)[0] for path in tracked}
    assert top <= allowed, f"unexpected top-level entries: {top - allowed}"


def test_first_start_creates_data_dir_database_and_secret(tmp_path: Path) -> None:
    srv = make_server("sqlite", tmp_path / "fresh")
    srv.extra_env["PHOSPHO_DATABASE_URL"] = ""  # the default: a file in the data directory
    srv.start()
    try:
        assert (tmp_path / "fresh" / "phospho.sqlite3").exists()
        assert (tmp_path / "fresh" / "secret_key").exists()
    finally:
        srv.stop()


def test_keys_create_prints_only_the_key_on_stdout(tmp_path: Path) -> None:
    srv = make_server("sqlite", tmp_path)
    result = srv.cli("keys", "create", "--project", "alpha", "--name", "backend")
    key = result.stdout.strip()
    assert re.fullmatch(r"ph_[A-Za-z0-9_-]{32,}", key)
    assert "only time" in result.stderr
    listing = srv.cli("keys", "list", "--project", "alpha").stdout
    assert key[:11] in listing and "backend" in listing and "active" in listing
    second = srv.cli("keys", "create", "--project", "alpha").stdout.strip()
    assert second != key
    assert srv.query("SELECT count(*) FROM projects WHERE name = 'alpha'") == [(1,)]


def test_keys_revoke_unknown_prefix_fails_clearly(tmp_path: Path) -> None:
    srv = make_server("sqlite", tmp_path)
    result = srv.cli("keys", "revoke", "ph_nothere", check=False)
    assert result.returncode == 1
    assert "no active key" in result.stderr
    missing = srv.cli("keys", "list", "--project", "nope", check=False)
    assert missing.returncode == 1 and "no project named 'nope'" in missing.stderr


def test_users_create_hashes_the_password_with_argon2id(tmp_path: Path) -> None:
    srv = make_server("sqlite", tmp_path)
    srv.cli(
        "users",
        "create",
        "--email",
        "Ada@Example.com",
        "--password",
        "correct horse",
        "--project",
        "p1",
    )
    rows = srv.query(
        "SELECT u.email, u.password_hash, m.role, p.name FROM users u "
        "JOIN memberships m ON m.user_id = u.id JOIN projects p ON p.id = m.project_id"
    )
    assert len(rows) == 1
    email, hashed, role, project = rows[0]
    assert (email, role, project) == ("ada@example.com", "owner", "p1")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    again = srv.cli(
        "users", "create", "--email", "ada@example.com", "--password", "x" * 10, check=False
    )
    assert again.returncode == 1 and "already exists" in again.stderr
    short = srv.cli(
        "users", "create", "--email", "b@example.com", "--password", "short", check=False
    )
    assert short.returncode == 1 and "at least 8" in short.stderr


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    srv = make_server("sqlite", tmp_path)
    first = srv.cli("migrate")
    assert "applied" in first.stderr
    assert "up to date" in srv.cli("migrate").stderr


def test_serve_listens_on_the_given_host_and_port(tmp_path: Path) -> None:
    srv = make_server("sqlite", tmp_path)
    srv.start()  # the harness passes --port; PHOSPHO_PORT is a different value
    try:
        assert str(srv.port) in srv.log()
    finally:
        srv.stop()


def test_unsupported_database_url_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "PHOSPHO_DATABASE_URL": "mysql://x@localhost/db", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "unsupported database URL scheme" in result.stderr


@pytest.mark.skipif(not PG_ADMIN_URL, reason="PostgreSQL not selected (PHOSPHO_TEST_POSTGRES)")
def test_postgres_server_refuses_to_start_without_durable_commits(tmp_path: Path) -> None:
    url = create_pg_database()
    try:
        name = url.rsplit("/", 1)[1]
        srv = Server(backend="postgres", data_dir=tmp_path, database_url=url)
        srv.cli("migrate")
        srv.query(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        with pytest.raises(RuntimeError, match="synchronous_commit"):
            srv.start(timeout=30)
    finally:
        drop_pg_database(url)


@pytest.mark.skipif(not PG_ADMIN_URL, reason="PostgreSQL not selected (PHOSPHO_TEST_POSTGRES)")
def test_postgres_server_refuses_to_start_with_pending_migrations(tmp_path: Path) -> None:
    url = create_pg_database()
    try:
        srv = Server(backend="postgres", data_dir=tmp_path, database_url=url)
        with pytest.raises(RuntimeError, match="phospho migrate"):
            srv.start(timeout=30)
    finally:
        drop_pg_database(url)


def test_openapi_documents_the_ingest_routes(server: Server) -> None:
    schema = httpx.get(server.base_url + "/openapi.json").json()
    for path in ("/api/v1/events", "/api/v1/events/batch", "/api/v1/events/{event_id}/feedback"):
        body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        name = body["schema"]["$ref"].rsplit("/", 1)[1]
        assert name in schema["components"]["schemas"]
    event_input = schema["components"]["schemas"]["LogEventInput"]
    assert set(event_input["required"]) == {"input", "output"}
    assert event_input["additionalProperties"] is False
    assert httpx.get(server.base_url + "/api/docs").status_code == 200


def test_a_second_server_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    first = make_server("sqlite", tmp_path)
    first.start()
    try:
        second = Server(backend="sqlite", data_dir=tmp_path / "b", database_url=first.database_url)
        second.data_dir.mkdir()
        with pytest.raises(RuntimeError, match="already serving"):
            second.start(timeout=30)
        assert "Traceback" not in second.log()
        key = first.cli("keys", "create", "--project", "while-serving").stdout.strip()
        ok = httpx.post(
            first.base_url + "/api/v1/events",
            json={"input": "q", "output": "a"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert ok.status_code == 201  # the CLI works beside the server; the server still serves
    finally:
        first.stop()
    second.start()  # once the first has stopped, the file is free
    second.stop()


def _histogram(stored: Any) -> dict[int, int]:
    histogram: dict[int, int] = {}
    merge_into(histogram, json.dumps(stored) if isinstance(stored, dict) else stored)
    return histogram


@pytest.mark.parametrize("backend", BACKENDS)
def test_rollups_rebuild_recomputes_from_events(tmp_path: Path, backend: str) -> None:
    """Rollups emptied by hand come back from the events; on SQLite the server must be stopped
    first (the rebuild claims the file like a server), and says so."""
    server = start_server(backend, tmp_path)
    try:
        tenant = server.new_tenant("rebuild")
        events = [
            {"input": "q", "output": "a", "user_id": f"u{i % 3}",
             "metadata": {"model": "gpt-4o", "tokens_in": 100 * i, "tokens_out": 10,
                          "latency_ms": 10.0 * (i + 1)}}
            for i in range(20)
        ]  # fmt: skip
        response = httpx.post(
            server.base_url + "/api/v1/events/batch", json={"events": events},
            headers=tenant.headers,
        )  # fmt: skip
        assert response.status_code == 201
        if backend == "sqlite":
            refused = server.cli("rollups", "rebuild", check=False)
            assert refused.returncode == 1
            assert "already serving" in refused.stderr and "Traceback" not in refused.stderr
        server.stop()
        sums = "SELECT level, events, tokens_in, cost_nano, latency_hist FROM metric_rollups "
        before = sorted(server.query(sums + "WHERE project_id = ?", tenant.project_id))
        assert [row[1] for row in before] == [20, 20, 20]
        server.query("DELETE FROM metric_rollups")
        server.query("DELETE FROM user_rollups")
        server.start()  # as after upgrading a database from before metrics: it says what to do
        server.stop()
        assert "run `phospho rollups rebuild` once" in server.log()
        done = server.cli("rollups", "rebuild", "--project", "rebuild")
        assert "20 events" in done.stderr
        after = sorted(server.query(sums + "WHERE project_id = ?", tenant.project_id))
        assert [row[:4] for row in after] == [row[:4] for row in before]
        assert [_histogram(row[4]) for row in after] == [_histogram(row[4]) for row in before]
        assert all(sum(_histogram(row[4]).values()) == 20 for row in after)
        users = server.query(
            "SELECT COUNT(*) FROM user_rollups WHERE project_id = ?", tenant.project_id
        )
        assert users[0][0] == 6  # 3 users x (hour, day)
        missing = server.cli("rollups", "rebuild", "--project", "nope", check=False)
        assert missing.returncode == 1 and "Traceback" not in missing.stderr
    finally:
        server.destroy()
