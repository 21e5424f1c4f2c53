"""Backup and restore under load, as the README's "Backup and restore" section tells a user.

A client thread logs events without pause while the backup is taken; every event acknowledged
(201) before the backup began must be in the restored database, which a fresh server then
serves (events, totals, new events). SQLite: `phospho backup` / `phospho restore`.
PostgreSQL: `pg_dump --format=custom --no-owner` / `pg_restore --no-owner` into a new database.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.harness import Server, Tenant, make_server, require_backend, serving

PG_DUMP = shutil.which("pg_dump") or "/usr/bin/pg_dump"
PG_RESTORE = shutil.which("pg_restore") or "/usr/bin/pg_restore"
PACE = 0.01
TOTALS = "{ project { totals { events } } events(first: 100) { edges { node { id } } } }"


class Load:
    """A client logging events one after another; remembers when each was acknowledged.

    Paced (PACE s apart) so that SQLite's WAL does not reach its automatic checkpoint during
    the test: the latest events then live only in the -wal file, and a backup that copied the
    database file alone would miss them.
    """

    def __init__(self, srv: Server, tenant: Tenant) -> None:
        self.srv, self.tenant = srv, tenant
        self.acked: list[tuple[float, str]] = []  # (monotonic time of the 201, event id)
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        """Post events until told to stop."""
        with httpx.Client(base_url=self.srv.base_url, headers=self.tenant.headers) as client:
            n = 0
            while not self.stopping.is_set():
                body = {"input": f"q{n}", "output": "a", "session_id": f"s{n % 7}"}
                answer = client.post("/api/v1/events", json=body, timeout=30)
                if answer.status_code == 201:
                    self.acked.append((time.monotonic(), answer.json()["event_id"]))
                else:
                    self.failures.append(f"{answer.status_code} {answer.text}")
                n += 1
                self.stopping.wait(PACE)

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Poll until `count` events are acknowledged."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            assert time.monotonic() < deadline, f"only {len(self.acked)} events acknowledged"
            time.sleep(0.02)

    def in_order(self) -> list[str]:
        """Every acknowledged event id, in the order of acknowledgement (= of commit)."""
        return [event_id for _, event_id in list(self.acked)]

    def acked_between(self, start: float, end: float) -> set[str]:
        """Events acknowledged in [start, end)."""
        return {event_id for at, event_id in list(self.acked) if start <= at < end}


@contextmanager
def loading(srv: Server, tenant: Tenant) -> Iterator[Load]:
    """Events posted continuously for the block."""
    load = Load(srv, tenant)
    load.thread.start()
    try:
        yield load
    finally:
        load.stopping.set()
        load.thread.join(timeout=60)
    assert not load.failures, load.failures[:3]


@dataclass(frozen=True)
class Taken:
    """A backup taken under load: what was acknowledged before it began, and in all."""

    before: set[str]
    acked: list[str]  # in commit order
    stderr: str

    def check_snapshot(self, copied: set[str]) -> None:
        """`copied` holds every event acked before the backup began and is one consistent
        moment: the first k acknowledged events, no fewer, no others."""
        assert self.before <= copied, f"{len(self.before - copied)} acknowledged events lost"
        assert copied == set(self.acked[: len(copied)]), "not a consistent snapshot"


def backup_under_load(srv: Server, tenant: Tenant, take: list[str]) -> Taken:
    """Run the command `take` while events flow."""
    with loading(srv, tenant) as load:
        load.wait_for(30)
        began = time.monotonic()
        before = load.acked_between(0, began)
        done = subprocess.run(take, env=srv.env, capture_output=True, text=True, check=False)
        ended = time.monotonic()
        load.wait_for(len(load.acked) + 5)  # the server still takes events after it
    assert done.returncode == 0, done.stderr
    assert load.acked_between(began, ended), "no event was acknowledged during the backup"
    return Taken(before, load.in_order(), done.stderr)


def check_served(srv: Server, tenant: Tenant, taken: Taken) -> None:
    """The restored server holds the backup's snapshot, and serves reads and new events."""
    stored = {str(row[0]) for row in srv.query("SELECT id FROM events")}
    taken.check_snapshot(stored)
    answer = httpx.post(srv.base_url + "/graphql", json={"query": TOTALS}, headers=tenant.headers)
    data = answer.json()["data"]
    assert data["project"]["totals"]["events"] == len(stored)  # rollups match the events
    listed = {edge["node"]["id"] for edge in data["events"]["edges"]}
    assert len(listed) == min(100, len(stored)) and listed <= stored
    new = httpx.post(srv.base_url + "/api/v1/events", json={"input": "after", "output": "restore"},
                     headers=tenant.headers)  # fmt: skip
    assert new.status_code == 201, new.text
    assert srv.query("SELECT count(*) FROM events")[0][0] == len(stored) + 1


def integrity(path: Path) -> list[tuple[str]]:
    """`PRAGMA integrity_check` of a SQLite file."""
    with sqlite3.connect(path) as conn:
        rows: list[tuple[str]] = conn.execute("PRAGMA integrity_check").fetchall()
    conn.close()
    return rows


def digest(path: Path) -> str:
    """A file's SHA-256."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sqlite_backup_under_load_restores_every_acknowledged_event(tmp_path: Path) -> None:
    out = tmp_path / "backups" / "phospho-backup.sqlite3"
    with serving("sqlite", tmp_path / "data") as srv:
        tenant = srv.new_tenant()
        cli = [sys.executable, "-m", "app.cli", "backup", "--out", str(out)]
        taken = backup_under_load(srv, tenant, cli)
        said = taken.stderr
        assert "backed up" in said and "events" in said and " s " in said, said
        # A standalone, private, sound file: no log beside it, rollback journal mode.
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
        assert integrity(out) == [("ok",)]
        with sqlite3.connect(out) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
            copied = {str(row[0]) for row in conn.execute("SELECT id FROM events")}
        conn.close()
        taken.check_snapshot(copied)
        assert f"{len(copied)} events" in said

        # An existing file is not overwritten without --force; a running server is not
        # replaced under its feet.
        kept = digest(out)
        again = srv.cli("backup", "--out", str(out), check=False)
        assert again.returncode == 1 and "--force" in again.stderr and digest(out) == kept
        refused = srv.cli("restore", "--from", str(out), check=False)
        assert refused.returncode == 1 and "already serving" in refused.stderr

        srv.stop()
        database = srv.data_dir / "phospho.sqlite3"
        restored = srv.cli("restore", "--from", str(out))
        assert "restored: " in restored.stderr and "kept as" in restored.stderr
        assert not Path(f"{database}-wal").exists() and not Path(f"{database}-shm").exists()
        assert stat.S_IMODE(database.stat().st_mode) == 0o600
        assert len(list(srv.data_dir.glob("phospho.sqlite3.replaced-*"))) == 1
        assert integrity(database) == [("ok",)]
        srv.start()
        check_served(srv, tenant, taken)
        # After a crash (kill -9: the last commits only in the -wal), a backup still has them.
        srv.kill()
        assert Path(f"{database}-wal").stat().st_size > 0
        after_crash = tmp_path / "backups" / "after-crash.sqlite3"
        srv.cli("backup", "--out", str(after_crash))
        with sqlite3.connect(after_crash) as conn:
            last = conn.execute("SELECT count(*) FROM events WHERE input = 'after'").fetchone()
        conn.close()
        assert last == (1,) and integrity(after_crash) == [("ok",)]


def test_backup_refuses_a_missing_database_and_a_non_phospho_file(tmp_path: Path) -> None:
    srv = make_server("sqlite", tmp_path / "data")
    missing = srv.cli("backup", "--out", str(tmp_path / "b"), check=False)
    assert missing.returncode == 1 and "no SQLite database" in missing.stderr
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database" * 100)
    refused = srv.cli("restore", "--from", str(junk), check=False)
    assert refused.returncode == 1 and "not a readable SQLite database" in refused.stderr
    assert not (srv.data_dir / "phospho.sqlite3").exists()  # nothing was touched


def test_postgres_dump_under_load_restores_every_acknowledged_event(tmp_path: Path) -> None:
    require_backend("postgres")
    dump = tmp_path / "phospho.dump"
    with serving("postgres", tmp_path / "source") as srv:
        tenant = srv.new_tenant()
        # `phospho backup` does not pretend on PostgreSQL: it points at pg_dump.
        pretend = srv.cli("backup", "--out", str(dump), check=False)
        assert pretend.returncode == 1 and "pg_dump" in pretend.stderr and not dump.exists()
        take = [PG_DUMP, "--format=custom", "--no-owner", f"--file={dump}", srv.database_url]
        taken = backup_under_load(srv, tenant, take)
    target = make_server("postgres", tmp_path / "restored")
    try:
        subprocess.run([PG_RESTORE, "--no-owner", "--exit-on-error", "--single-transaction",
                        f"--dbname={target.database_url}", str(dump)], check=True)  # fmt: skip
        # The dump carries the migrations' state: nothing left to apply.
        assert "database is up to date" in target.cli("migrate").stderr
        target.start()
        check_served(target, tenant, taken)
    finally:
        target.destroy()
