"""Test harness: start real `phospho serve` processes and look into their databases.

Servers run as subprocesses on a free port, exactly as a user starts them. Tests read the
database directly (sqlite3 / psycopg) to check what was really stored.
"""

from __future__ import annotations

import atexit
import functools
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from app.services.keys import hash_key

PG_ADMIN_URL = os.environ.get("PHOSPHO_TEST_POSTGRES", "")
BACKENDS = ["sqlite", "postgres"] if PG_ADMIN_URL else ["sqlite"]
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Tenant:
    """A project and one of its API keys."""

    project_id: int
    key: str

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for this tenant's key."""
        return {"Authorization": f"Bearer {self.key}"}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_pg_database() -> str:
    """Create an empty throwaway PostgreSQL database; returns its URL."""
    name = "phospho_t_" + secrets.token_hex(6)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


_migrated_template: list[str] = []  # the name of this process's migrated template, once made


def create_migrated_pg_database() -> str:
    """A throwaway PostgreSQL database with every migration applied; returns its URL.

    `phospho migrate` runs once per test process, into a template database; each call then
    copies it (`CREATE DATABASE ... TEMPLATE`, ~50 ms) instead of migrating again in a new
    process (~0.5 s). The template is dropped when the process exits.
    """
    if not _migrated_template:
        url = create_pg_database()
        with tempfile.TemporaryDirectory() as scratch:
            Server("postgres", Path(scratch), url).cli("migrate")
        _migrated_template.append(url.rsplit("/", 1)[1])
        atexit.register(drop_pg_database, url)
    name = "phospho_t_" + secrets.token_hex(6)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_migrated_template[0]}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    """Drop a database made by `create_pg_database`."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    """One `phospho serve` process and its database."""

    backend: str
    data_dir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """Where the server listens."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment of the server and of CLI calls against its database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHOSPHO_")}
        env.update(
            PHOSPHO_DATA_DIR=str(self.data_dir),
            PHOSPHO_DATABASE_URL=self.database_url,
            PHOSPHO_PORT=str(self.port),
            PYTHONPATH=str(REPO),
        )
        env.update(self.extra_env)
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `phospho ARGS` against this server's database."""
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def start(self, timeout: float = 60.0) -> None:
        """Start `phospho serve` and wait until it answers."""
        log = open(self.data_dir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.base_url + "/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), as a service manager would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """`kill -9`: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def destroy(self) -> None:
        """Stop the server and drop its database."""
        self.stop()
        if self.backend == "postgres":
            drop_pg_database(self.database_url)

    def log(self) -> str:
        """The server's output so far."""
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run SQL (with `?` placeholders) directly against the database; returns rows."""
        if self.backend == "sqlite":
            path = self.database_url.split("://", 1)[1]
            with sqlite3.connect(path, timeout=30) as conn:
                rows = conn.execute(sql, params).fetchall()
            conn.close()
            return rows
        with psycopg.connect(self.database_url, autocommit=True) as pg:
            cursor = pg.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def new_tenant(self, name: str | None = None) -> Tenant:
        """Create a project and key straight in the database (fast setup for tests)."""
        name = name or "project-" + secrets.token_hex(4)
        secret = "ph_" + secrets.token_urlsafe(32)
        now = "2026-01-01 00:00:00+00:00"
        self.query("INSERT INTO projects (name, created_at) VALUES (?, ?)", name, now)
        project_id = int(self.query("SELECT max(id) FROM projects WHERE name = ?", name)[0][0])
        self.query(
            "INSERT INTO api_keys (project_id, name, prefix, key_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            project_id, "test", secret[:11] + uuid.uuid4().hex[:4], hash_key(secret), now,
        )  # fmt: skip
        return Tenant(project_id=project_id, key=secret)

    def new_account(self, password: str) -> str:
        """Create a dashboard account owning a new project straight in the database, as
        sign-up does, without its argon2 hash per account (~0.2 s: the hash of `password` is
        made once per process); returns its email. Sign-up itself is tested over HTTP."""
        email = f"user-{secrets.token_hex(4)}@example.com"
        now = "2026-01-01 00:00:00+00:00"
        self.query("INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?)",
                   email, password_hash(password), now)  # fmt: skip
        user_id = int(self.query("SELECT id FROM users WHERE email = ?", email)[0][0])
        name = f"{email}'s project"
        self.query("INSERT INTO projects (name, created_at) VALUES (?, ?)", name, now)
        project_id = int(self.query("SELECT max(id) FROM projects WHERE name = ?", name)[0][0])
        self.query("INSERT INTO memberships (user_id, project_id, role, created_at) "
                   "VALUES (?, ?, 'owner', ?)", user_id, project_id, now)  # fmt: skip
        return email

    def event_rows(self, project_id: int) -> list[tuple[Any, ...]]:
        """Every stored event of a project: (id, session_key, input, output)."""
        return self.query(
            "SELECT id, session_key, input, output FROM events WHERE project_id = ? "
            "ORDER BY created_at, id",
            project_id,
        )


@functools.cache
def password_hash(password: str) -> str:
    """An argon2id hash of `password` with argon2-cffi's defaults, as the server makes them."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def make_server(backend: str, data_dir: Path, **extra_env: str) -> Server:
    """A server object with an empty database (not started)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        url = f"sqlite://{data_dir / 'phospho.sqlite3'}"
    else:
        url = create_pg_database()
    return Server(backend=backend, data_dir=data_dir, database_url=url, extra_env=extra_env)


def start_server(backend: str, data_dir: Path, **extra_env: str) -> Server:
    """Make a server on a migrated database and start it (SQLite migrates at start; a
    PostgreSQL server needs `phospho migrate` first: its database is a copy of a migrated one,
    `create_migrated_pg_database`)."""
    if backend == "sqlite":
        srv = make_server(backend, data_dir, **extra_env)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        srv = Server(backend, data_dir, create_migrated_pg_database(), extra_env=extra_env)
    srv.start()
    return srv


@contextmanager
def serving(backend: str, data_dir: Path, **extra_env: str) -> Iterator[Server]:
    """A started server (`start_server`) for the block; destroyed after (stopped, its
    PostgreSQL database dropped)."""
    srv = start_server(backend, data_dir, **extra_env)
    try:
        yield srv
    finally:
        srv.destroy()


def require_backend(backend: str) -> None:
    """Skip the test when `backend` is PostgreSQL and PostgreSQL is not selected."""
    if backend not in BACKENDS:
        pytest.skip("PostgreSQL not selected (PHOSPHO_TEST_POSTGRES)")
