"""Migrations: applying every migration to an empty database gives exactly the models' schema.

For each backend, database A is migrated the way an operator does it (`phospho migrate`) and
database B gets its schema straight from the models (Tortoise `generate_schemas`). Their
catalogues must match: tables, columns (type, nullability, primary key), indexes (compared by
table, columns and uniqueness, not by name) and foreign keys. The models must also agree with
the state recorded in the last migration of each dialect (`make_migrations.py --check`).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.harness import (
    BACKENDS,
    REPO,
    Server,
    create_pg_database,
    drop_pg_database,
    make_server,
)

MAKE_MIGRATIONS = REPO / "scripts" / "make_migrations.py"

# The indexes that the event list, its filters and the charts rely on.
# Each list index ends with `id`, the lists' tie-break (a page never sorts a tie group).
EVENT_INDEXES = [
    ("project_id", "created_at", "id"),
    ("project_id", "session_key", "created_at", "id"),
    ("project_id", "user_id", "created_at", "id"),
    ("project_id", "model", "created_at", "id"),
    ("project_id", "status", "created_at", "id"),
    ("project_id", "feedback_score", "created_at", "id"),
]
# An end user's feedback counts: a partial index (events with feedback), hand-written in
# migration 16 since a model cannot declare it; checked by test_migrations_create_the_partial
# _feedback_index, and left out of the comparison with the models.
USER_FEEDBACK_INDEX = "idx_events_user_feedback"

# The text search index is hand-written SQL in its migration (app/services/search.py), not
# a model: on SQLite an FTS5 table (with its shadow tables) and the key map; checked on their
# own by test_migrations_create_the_search_index. (PostgreSQL's expression index has no
# column of its own, so the index comparison cannot see it either.)
SEARCH_TABLES = re.compile(r"event_search($|_)")
# SQLite's list of end users the retention sweep deleted whose rollups stay: hand-written in
# migration 17 (SQLite only), checked by test_migrations_create_the_departed_users_list.
DEPARTED_USERS = "departed_users"
# PostgreSQL's search words: a generated column the models cannot declare (migration 15),
# checked by test_migrations_create_the_search_index instead.
SEARCH_COLUMN = ("events", "search_vector")

# Runs in a fresh interpreter: Tortoise keeps global state, and the test process must not.
SCHEMA_FROM_MODELS = """
import asyncio, sys
from tortoise import Tortoise
from app.db import tortoise_config

async def main(url):
    await Tortoise.init(config=tortoise_config(url, with_reader=False))
    try:
        await Tortoise.generate_schemas(safe=False)
    finally:
        await Tortoise.close_connections()

asyncio.run(main(sys.argv[1]))
"""

Column = tuple[str, str, bool, bool]  # name, type, nullable, part of the primary key
Index = tuple[str, tuple[str, ...], bool]  # table, columns in order, unique
ForeignKey = tuple[str, tuple[str, ...], str, tuple[str, ...], str]  # ..., on delete


@dataclass(frozen=True)
class Schema:
    """What the database catalogue says, in a form comparable across two databases."""

    columns: dict[str, list[Column]]  # table -> columns in declaration order
    indexes: list[Index]  # sorted; a list, so that a duplicated index shows
    foreign_keys: set[ForeignKey]

    @property
    def tables(self) -> set[str]:
        """Every table name."""
        return set(self.columns)


def clean_env() -> dict[str, str]:
    """The environment of a subprocess that imports this checkout, without PHOSPHO_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOSPHO_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def sqlite_path(url: str) -> str:
    """The file of a `sqlite://PATH` URL."""
    return url.split("://", 1)[1]


def introspect_sqlite(url: str) -> Schema:
    """Read tables, columns, indexes and foreign keys from sqlite_master and PRAGMAs."""
    conn = sqlite3.connect(sqlite_path(url))
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
            if not SEARCH_TABLES.match(row[0]) and row[0] != DEPARTED_USERS
        ]
        columns: dict[str, list[Column]] = {}
        indexes: list[Index] = []
        foreign_keys: set[ForeignKey] = set()
        for table in tables:
            columns[table] = [
                (name, str(kind).upper(), not notnull, pk > 0)
                for _, name, kind, notnull, _, pk in conn.execute(
                    "SELECT * FROM pragma_table_info(?)", (table,)
                )
            ]
            for _, name, unique, _, _ in conn.execute(
                "SELECT * FROM pragma_index_list(?)", (table,)
            ):
                if name == USER_FEEDBACK_INDEX:
                    continue
                cols = tuple(
                    row[0]
                    for row in conn.execute(
                        "SELECT name FROM pragma_index_info(?) ORDER BY seqno", (name,)
                    )
                )
                indexes.append((table, cols, bool(unique)))
            by_id: dict[int, list[tuple[str, str, str, str]]] = {}
            for fk_id, _, target, source, to, _, on_delete, _ in conn.execute(
                "SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq", (table,)
            ):
                by_id.setdefault(fk_id, []).append((target, source, to, on_delete))
            for parts in by_id.values():
                foreign_keys.add(
                    (
                        table,
                        tuple(p[1] for p in parts),
                        parts[0][0],
                        tuple(p[2] for p in parts),
                        parts[0][3].upper(),
                    )
                )
    finally:
        conn.close()
    return Schema(columns=columns, indexes=sorted(indexes), foreign_keys=foreign_keys)


PG_COLUMNS = """
SELECT c.table_name, c.column_name,
       CASE WHEN c.character_maximum_length IS NULL THEN c.udt_name
            ELSE c.udt_name || '(' || c.character_maximum_length || ')' END,
       c.is_nullable = 'YES'
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
ORDER BY c.table_name, c.ordinal_position
"""

PG_INDEXES = """
SELECT t.relname, i.relname, ix.indisunique, ix.indisprimary,
       array_agg(a.attname::text ORDER BY k.ord)
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
CROSS JOIN LATERAL unnest(ix.indkey::smallint[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE n.nspname = 'public'
GROUP BY t.relname, i.relname, ix.indisunique, ix.indisprimary
"""

PG_FOREIGN_KEYS = """
SELECT t.relname, r.relname, con.confdeltype,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(n, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
             ORDER BY k.ord),
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(n, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
             ORDER BY k.ord)
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_class r ON r.oid = con.confrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE con.contype = 'f' AND n.nspname = 'public'
"""

PG_ON_DELETE = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}


def introspect_postgres(url: str) -> Schema:
    """Read tables, columns, indexes and foreign keys from information_schema and pg_catalog."""
    with psycopg.connect(url, autocommit=True) as conn:
        index_rows = conn.execute(PG_INDEXES).fetchall()
        primary = {
            (table, column) for table, _, _, is_pk, cols in index_rows if is_pk for column in cols
        }
        columns: dict[str, list[Column]] = {}
        for table, name, kind, nullable in conn.execute(PG_COLUMNS).fetchall():
            if (table, name) == SEARCH_COLUMN:
                continue
            columns.setdefault(table, []).append(
                (name, kind.upper(), nullable, (table, name) in primary)
            )
        indexes = sorted((table, tuple(cols), unique) for table, name, unique, _, cols in index_rows
                         if (table, cols[0]) != SEARCH_COLUMN
                         and name != USER_FEEDBACK_INDEX)  # fmt: skip
        foreign_keys = {
            (table, tuple(cols), target, tuple(to), PG_ON_DELETE[action])
            for table, target, action, cols, to in conn.execute(PG_FOREIGN_KEYS).fetchall()
        }
    return Schema(columns=columns, indexes=indexes, foreign_keys=foreign_keys)


def introspect(backend: str, url: str) -> Schema:
    """The schema of the database at `url`."""
    return introspect_sqlite(url) if backend == "sqlite" else introspect_postgres(url)


def migration_files(backend: str) -> list[str]:
    """The migration files of a dialect, in the order aerich applies them."""
    folder = REPO / "migrations" / backend / "models"
    files = [p.name for p in folder.glob("*.py") if p.name.split("_", 1)[0].isdigit()]
    return sorted(files, key=lambda name: int(name.split("_", 1)[0]))


def applied_versions(srv: Server) -> list[str]:
    """The migrations aerich recorded as applied, in order."""
    return [row[0] for row in srv.query("SELECT version FROM aerich ORDER BY id")]


@pytest.fixture(scope="module", params=BACKENDS)
def migrated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Database A: empty, then every migration applied by `phospho migrate`."""
    srv = make_server(request.param, tmp_path_factory.mktemp(f"migrated-{request.param}"))
    try:
        srv.cli("migrate")
        yield srv
    finally:
        srv.destroy()


def schema_from_models(backend: str, directory: Path) -> Iterator[str]:
    """Database B: empty, then the schema Tortoise creates from the models; yields its URL."""
    if backend == "sqlite":
        url = f"sqlite://{directory / 'models.sqlite3'}"
    else:
        url = create_pg_database()
    try:
        subprocess.run(
            [sys.executable, "-c", SCHEMA_FROM_MODELS, url],
            env=clean_env(),
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        yield url
    finally:
        if backend == "postgres":
            drop_pg_database(url)


@pytest.fixture(scope="module")
def from_models(migrated: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Database B for the same backend as `migrated`."""
    directory = tmp_path_factory.mktemp(f"models-{migrated.backend}")
    yield from schema_from_models(migrated.backend, directory)


def test_migrate_applies_every_migration_file(migrated: Server) -> None:
    files = migration_files(migrated.backend)
    assert files, "no migration files found"
    assert applied_versions(migrated) == files


def test_migrated_tables_match_the_models(migrated: Server, from_models: str) -> None:
    schema_a = introspect(migrated.backend, migrated.database_url)
    schema_b = introspect(migrated.backend, from_models)
    assert {"projects", "users", "memberships", "api_keys", "sessions", "events", "feedback"} <= (
        schema_b.tables
    )
    assert schema_a.tables == schema_b.tables


def test_migrated_columns_match_the_models(migrated: Server, from_models: str) -> None:
    schema_a = introspect(migrated.backend, migrated.database_url)
    schema_b = introspect(migrated.backend, from_models)
    for table in sorted(schema_b.tables):
        # Compared as sets: an added column lands at the end of the table, wherever the field
        # is declared in the model; its name, type and nullability are what must match.
        assert set(schema_a.columns.get(table, [])) == set(schema_b.columns[table]), table


def test_migrated_indexes_match_the_models(migrated: Server, from_models: str) -> None:
    schema_a = introspect(migrated.backend, migrated.database_url)
    schema_b = introspect(migrated.backend, from_models)
    assert schema_a.indexes == schema_b.indexes


def test_migrated_foreign_keys_match_the_models(migrated: Server, from_models: str) -> None:
    schema_a = introspect(migrated.backend, migrated.database_url)
    schema_b = introspect(migrated.backend, from_models)
    assert schema_a.foreign_keys == schema_b.foreign_keys


@pytest.mark.parametrize("columns", EVENT_INDEXES, ids="-".join)
def test_migrations_create_the_event_indexes(migrated: Server, columns: tuple[str, ...]) -> None:
    indexes = introspect(migrated.backend, migrated.database_url).indexes
    assert ("events", columns, False) in indexes


def test_migrations_create_the_partial_feedback_index(migrated: Server) -> None:
    """Migration 16's index of the events that have feedback (an end user's counts)."""
    if migrated.backend == "sqlite":
        [(definition,)] = migrated.query(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", USER_FEEDBACK_INDEX
        )
    else:
        [(definition,)] = migrated.query(
            "SELECT indexdef FROM pg_indexes WHERE indexname = ?", USER_FEEDBACK_INDEX
        )
    compact = definition.replace('"', "").replace(" ", "")
    assert "(project_id,user_id,feedback_score)WHERE" in compact, definition
    assert "feedback_scoreISNOTNULL" in compact, definition


def test_migrations_create_the_departed_users_list(migrated: Server) -> None:
    """SQLite's `departed_users` (migration 17): keyed by (project, end user), an index by
    (project, last_seen) for the Overview's reads, gone with its project. PostgreSQL has none."""
    if migrated.backend != "sqlite":
        [(count,)] = migrated.query(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", DEPARTED_USERS
        )
        assert count == 0
        return
    columns = [row[1] for row in migrated.query(f"PRAGMA table_info({DEPARTED_USERS})")]
    assert columns == ["project_id", "user_id", "last_seen"]
    indexed = migrated.query(
        "SELECT name FROM pragma_index_info('idx_departed_users_seen') ORDER BY seqno"
    )
    assert [row[0] for row in indexed] == ["project_id", "last_seen"]
    [fk] = migrated.query(f"PRAGMA foreign_key_list({DEPARTED_USERS})")
    assert fk[2] == "projects" and fk[6] == "CASCADE"


def test_migrations_create_the_search_index(migrated: Server) -> None:
    """The search index of app/services/search.py: SQLite's FTS5 table, key map and the
    triggers that keep them; PostgreSQL's generated column of words and its GIN index."""
    if migrated.backend == "sqlite":
        names = {
            (kind, name)
            for kind, name in migrated.query("SELECT type, name FROM sqlite_master")
            if SEARCH_TABLES.match(name) or name.startswith("events_search")
        }
        assert {("table", "event_search"), ("table", "event_search_ids"),
                ("trigger", "events_search_insert"), ("trigger", "events_search_delete"),
                ("trigger", "events_search_update")} <= names  # fmt: skip
    else:
        [(definition,)] = migrated.query(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_events_search'"
        )
        assert "USING gin (search_vector)" in definition
        [(options,)] = migrated.query(
            "SELECT reloptions FROM pg_class WHERE relname = 'idx_events_search'"
        )
        assert "gin_pending_list_limit=1024" in str(options)  # what every search reads
        [(generated, expression)] = migrated.query(
            "SELECT is_generated, generation_expression FROM information_schema.columns "
            "WHERE table_name = 'events' AND column_name = 'search_vector'"
        )
        assert generated == "ALWAYS" and "to_tsvector" in expression


def test_second_migrate_is_a_no_op(backend: str, tmp_path: Path) -> None:
    srv = make_server(backend, tmp_path)
    try:
        first = srv.cli("migrate")
        assert "applied: " in first.stderr
        schema = introspect(backend, srv.database_url)
        versions = applied_versions(srv)

        second = srv.cli("migrate", check=False)
        assert second.returncode == 0, second.stderr
        assert "database is up to date" in second.stderr
        assert "applied: " not in second.stderr
        assert applied_versions(srv) == versions
        assert introspect(backend, srv.database_url) == schema
    finally:
        srv.destroy()


def run_check(script: Path) -> subprocess.CompletedProcess[str]:
    """`python scripts/make_migrations.py --check` of the checkout that holds `script`."""
    return subprocess.run(
        [sys.executable, str(script), "--check"],
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)},
        cwd=script.parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its content."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.py")}


def test_models_match_the_last_migration() -> None:
    before = listing(REPO / "migrations")
    result = run_check(MAKE_MIGRATIONS)
    assert result.returncode == 0, (
        "the models differ from the last migration; run scripts/make_migrations.py NAME\n"
        + result.stdout
        + result.stderr
    )
    assert "sqlite: models match" in result.stdout
    assert "postgres: models match" in result.stdout
    assert listing(REPO / "migrations") == before


def test_check_detects_drift_and_writes_nothing(tmp_path: Path) -> None:
    """The drift check itself works: a field added to a model (in a copy) makes it fail."""
    copy = tmp_path / "checkout"
    for folder in ("app", "models", "migrations", "scripts"):
        shutil.copytree(REPO / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    event_model = copy / "models" / "event.py"
    source = event_model.read_text()
    anchor = "    created_at = fields.DatetimeField()\n"
    assert anchor in source
    event_model.write_text(
        source.replace(anchor, anchor + "    drift_probe = fields.IntField(null=True)\n", 1)
    )
    before = listing(copy / "migrations")

    result = run_check(copy / "scripts" / "make_migrations.py")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "sqlite: models differ" in result.stdout
    assert "postgres: models differ" in result.stdout
    assert result.stdout.count('ADD "drift_probe"') == 2  # once per dialect, not leaked twice
    assert listing(copy / "migrations") == before
