"""Data files are private whatever the umask: 0600 files in a 0700 data directory."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.harness import make_server

PRIVATE_FILES = ["phospho.sqlite3", "phospho.sqlite3-wal", "phospho.sqlite3-shm",
                 "phospho.sqlite3.lock", "secret_key"]  # fmt: skip


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """Run with `mask` as this process's umask (servers and CLI calls inherit it)."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    """The permission bits of `path`."""
    return stat.S_IMODE(path.stat().st_mode)


def modes(data_dir: Path) -> dict[str, int]:
    """The modes of the data directory and of each data file."""
    found = {name: mode(data_dir / name) for name in PRIVATE_FILES if (data_dir / name).exists()}
    return found | {".": mode(data_dir)}


def test_a_fresh_server_creates_private_files_under_a_permissive_umask(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    srv = make_server("sqlite", tmp_path / "logs")
    srv.extra_env.update(PHOSPHO_DATA_DIR=str(data_dir), PHOSPHO_DATABASE_URL="")
    with umask(0o000):
        srv.start()
    try:
        tenant_key = srv.cli("keys", "create", "--project", "modes").stdout.strip()
        answer = httpx.post(srv.base_url + "/api/v1/events", json={"input": "q", "output": "a"},
                            headers={"Authorization": f"Bearer {tenant_key}"})  # fmt: skip
        assert answer.status_code == 201  # the WAL and its index now exist
        found = modes(data_dir)
    finally:
        srv.stop()
    assert set(found) == {".", *PRIVATE_FILES}, found
    assert found == {".": 0o700} | dict.fromkeys(PRIVATE_FILES, 0o600)


def test_existing_files_are_tightened_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    srv = make_server("sqlite", tmp_path / "logs")
    srv.extra_env.update(PHOSPHO_DATA_DIR=str(data_dir), PHOSPHO_DATABASE_URL="")
    srv.start()
    srv.stop()
    # As an older release (or a copy with `cp`) would have left them.
    data_dir.chmod(0o755)
    for name in PRIVATE_FILES:
        if (data_dir / name).exists():
            (data_dir / name).chmod(0o644)
    with umask(0o000):
        srv.start()
    try:
        found = modes(data_dir)
    finally:
        srv.stop()
    assert found[PRIVATE_FILES[0]] == 0o600 and found["secret_key"] == 0o600
    assert found == {".": 0o700} | {name: 0o600 for name in found if name != "."}


def test_the_cli_creates_a_private_database_too(tmp_path: Path) -> None:
    srv = make_server("sqlite", tmp_path / "logs")
    database = tmp_path / "elsewhere" / "db.sqlite3"
    srv.extra_env["PHOSPHO_DATABASE_URL"] = f"sqlite://{database}"
    with umask(0o000):
        srv.cli("keys", "create", "--project", "cli-first")
    assert mode(database) == 0o600
    assert mode(database.parent) == 0o700, "a directory phospho creates is private"
    assert (
        not (database.parent / "db.sqlite3-wal").exists()
        or mode(database.parent / "db.sqlite3-wal") == 0o600
    )
