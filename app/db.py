"""Database wiring: the Tortoise config, durable-commit checks, migrations and connections.

On SQLite the group-commit writer owns a connection of its own (app/services/write_backends.py);
the ORM's `default` connection serves the rare other writes (keys, users), and reads go through
a separate `reader` connection so that they never queue behind a write (WAL allows both).
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import OperationalError

from app.settings import PRIVATE_FILE_MODE, Settings, private_file
from models import MODEL_MODULES

log = logging.getLogger("phospho.db")

# Beside the database: SQLite's own files and the server's claim (write_backends.py).
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal", ".lock")
APP_LABEL = "models"
WRITER = "default"
READER = "reader"


class DatabaseConfigError(RuntimeError):
    """The database is missing or not configured for durable commits."""


def dialect_of(url: str) -> str:
    """`sqlite` or `postgres`, from a database URL; anything else is refused."""
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgres", "postgresql", "asyncpg"):
        return "postgres"
    raise DatabaseConfigError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:// or postgres://"
    )


def _sqlite_connection(path: str) -> dict[str, Any]:
    # busy_timeout first: the CLI may write while the server runs. synchronous=FULL with WAL
    # fsyncs the log at every commit, so an acknowledged event survives a power loss.
    return {
        "engine": "tortoise.backends.sqlite",
        "credentials": {
            "file_path": path,
            "busy_timeout": 10000,
            "journal_mode": "WAL",
            "synchronous": "FULL",
            "foreign_keys": "ON",
        },
    }


def sqlite_path(url: str) -> str:
    """The file path of a `sqlite://PATH` URL."""
    return url.split("://", 1)[1].split("?", 1)[0]


def private_sqlite_files(path: str) -> None:
    """Create the database file 0600 before SQLite does, and tighten what exists beside it.

    SQLite would create it 0644 (less the umask); it then gives the -wal and -shm files the
    database file's own mode, so a private database keeps its log private too. A directory
    made here is 0700; an existing one is left alone (it may be shared, such as /tmp).
    """
    db = Path(path)
    if not db.parent.is_dir():
        db.parent.mkdir(mode=0o700, parents=True)
    try:
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        private_file(db)
    for suffix in SQLITE_COMPANIONS:
        private_file(Path(path + suffix))


def tortoise_config(url: str, *, with_reader: bool = True) -> dict[str, Any]:
    """The Tortoise config for `url`, with aerich's model in the same app for migrations."""
    conns: dict[str, Any]
    if dialect_of(url) == "sqlite":
        path = sqlite_path(url)
        if path != ":memory:":
            private_sqlite_files(path)
        conns = {WRITER: _sqlite_connection(path)}
        if with_reader:
            conns[READER] = _sqlite_connection(path)
    else:
        conns = {WRITER: _postgres_connection(url)}
    return {
        "connections": conns,
        "apps": {
            APP_LABEL: {
                "models": [*MODEL_MODULES, "aerich.models"],
                "default_connection": WRITER,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# PostgreSQL settings of the ORM's pool (every read, and the ORM's own writes; the ingest
# writer has its own pool). No parallel workers: the dashboard's and GraphQL's reads are index
# ranges of milliseconds, and launching workers cost more than it saved (a Gather of 2 ms of
# work took 10 ms on 2 cores, 40 under load): at 1M events, the overview's week 71 -> 26 ms and
# a tag on 20% of events 65 -> 29 ms (bench/dashboard, medians). An operator's own sessions
# (psql, pg_dump) keep the server's setting.
READ_SETTINGS = {"max_parallel_workers_per_gather": "0"}


def _postgres_connection(url: str) -> dict[str, Any]:
    """The ORM's connection to the PostgreSQL database at `url`, with READ_SETTINGS."""
    from tortoise.backends.base.config_generator import expand_db_url

    config: dict[str, Any] = expand_db_url(url.replace("postgresql://", "postgres://", 1))
    config["credentials"]["server_settings"] = dict(READ_SETTINGS)
    return config


def migrations_dir(dialect: str) -> Path:
    """Where the aerich migrations of `dialect` live, in a checkout or an installed wheel."""
    checkout = Path(__file__).resolve().parent.parent / "migrations" / dialect
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("app.migrations") / dialect))


async def init_tortoise(config: dict[str, Any], *, global_fallback: bool = False) -> None:
    """Initialise Tortoise for `config`, forgetting what an earlier initialisation cached.

    Tortoise caches generated INSERT statements by connection name and table, and both
    dialects name their connection `default`: without the reset, a process that opened SQLite
    before PostgreSQL (the test suite, a migration after a check) would send SQLite SQL.
    """
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=config, _enable_global_fallback=global_fallback)


async def apply_migrations(url: str) -> list[str]:
    """Apply every pending migration to the database at `url`; returns the applied versions."""
    from aerich import Command

    config = tortoise_config(url, with_reader=False)
    # aerich initialises Tortoise only when it is not initialised yet: do it here, so an
    # earlier initialisation in this process (maybe of another database) is not reused.
    await init_tortoise(config)
    location = migrations_dir(dialect_of(url))
    async with Command(config, app=APP_LABEL, location=str(location)) as command:
        applied: list[str] = await command.upgrade(run_in_transaction=True)
    return applied


async def pending_migrations(url: str) -> list[str]:
    """Migration files not yet applied to the database at `url`."""
    from aerich import Command

    config = tortoise_config(url, with_reader=False)
    # aerich initialises Tortoise only when it is not initialised yet: do it here, so an
    # earlier initialisation in this process (maybe of another database) is not reused.
    await init_tortoise(config)
    location = migrations_dir(dialect_of(url))
    async with Command(config, app=APP_LABEL, location=str(location)) as command:
        try:
            heads: list[str] = await command.heads()
        except OperationalError:  # an empty database has no `aerich` table yet
            heads = await command.history()
    return heads


async def init_orm(settings: Settings) -> None:
    """Open the ORM for the app and check that commits are durable."""
    url = settings.resolved_database_url
    # Global fallback: uvicorn runs the lifespan and each request in different tasks, and
    # Tortoise 1.x otherwise keeps its state in a context variable of the initialising task.
    await init_tortoise(tortoise_config(url), global_fallback=True)
    await check_durability(dialect_of(url))


async def close_orm() -> None:
    """Close every connection opened by `init_orm`."""
    await Tortoise.close_connections()


def writer() -> BaseDBAsyncClient:
    """The ORM's write connection (the ingest path has its own: see write_backends.py)."""
    conn: BaseDBAsyncClient = connections.get(WRITER)
    return conn


def reader() -> BaseDBAsyncClient:
    """The connection for reads: separate from the writer on SQLite, the pool on PostgreSQL."""
    try:
        conn: BaseDBAsyncClient = connections.get(READER)
    except Exception:  # PostgreSQL: one pool serves both.
        conn = connections.get(WRITER)
    return conn


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    """Whether `conn` talks to PostgreSQL (placeholders `$n`) rather than SQLite (`?`)."""
    return bool(conn.capabilities.dialect == "postgres")


async def check_durability(dialect: str) -> None:
    """Refuse to run unless a commit is durable (WAL + synchronous=FULL, synchronous_commit)."""
    conn = writer()
    if dialect == "sqlite":
        _, mode = await conn.execute_query("PRAGMA journal_mode")
        _, sync = await conn.execute_query("PRAGMA synchronous")
        journal, level = str(mode[0][0]).lower(), int(sync[0][0])
        if journal != "wal" or level != 2:
            raise DatabaseConfigError(
                f"SQLite must run with journal_mode=WAL and synchronous=FULL "
                f"(got journal_mode={journal}, synchronous={level})"
            )
        return
    _, rows = await conn.execute_query("SHOW synchronous_commit")
    value = str(next(iter(rows[0].values()))) if rows else ""
    if value != "on":
        raise DatabaseConfigError(
            f"PostgreSQL synchronous_commit is {value!r}; phospho acknowledges an event only "
            "once it is durable, so set it to 'on' for this database or role"
        )
    log.info("PostgreSQL synchronous_commit=on")
