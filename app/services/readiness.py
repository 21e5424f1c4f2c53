"""Readiness: may this process take traffic now? (`GET /api/v1/ready`, app/api/ready.py)

Liveness (`/api/v1/health`, answered by the HTTP protocol) says the process runs; readiness
says that what a request needs answers: a load balancer sends traffic elsewhere while it does
not. The checks, run side by side under one deadline (`DEADLINE`, 1 s):

- `database`: the app's reader answers a real query (aerich's versions, below), and so does
  the group-commit writer's own connection (SQLite: `BEGIN IMMEDIATE` then `ROLLBACK` on the
  writer thread, i.e. the write lock a commit needs first, and no fsync; PostgreSQL: the pool).
- `migrations`: every migration file this release carries is in aerich's table (read by the
  same query, never cached, so a database restored to an older schema is noticed at once).
  Versions the database has beyond these are fine: a newer release migrated first (additive
  migrations), and this one keeps serving until it is replaced.
- `writer`: the group-commit writer's task still runs (app/services/writer.py).
- `live` (PostgreSQL only): the LISTEN connection that feeds this process's live streams from
  the other processes is up (app/live_pg.py).

Cheap when called often: each database probe is one statement, and a probe still running
(one that missed an earlier deadline, e.g. behind a lock) is awaited again by the next
requests rather than started twice, so at most one probe per connection is ever in flight
however often the route is called; a probe is abandoned after `PROBE_LIMIT`. Nothing is
cached. Failures are named without their text (which may hold a host name): a timeout, or the
exception's class; the full error is logged once when a check changes state.
"""

from __future__ import annotations

import asyncio
import logging
import pkgutil
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from app.db import APP_LABEL, migrations_dir, reader
from app.live_pg import PostgresBridge
from app.services.write_backends import WriteBackend
from app.services.writer import GroupCommitWriter

log = logging.getLogger("phospho.ready")

T = TypeVar("T")
OK = "ok"
DEADLINE = 1.0  # seconds for all the checks together
PROBE_LIMIT = 10.0  # a probe still blocked after this is cancelled (the next request retries)
VERSIONS = f"SELECT version FROM aerich WHERE app = '{APP_LABEL}'"  # noqa: S608 (a constant)


def migration_files(dialect: str) -> frozenset[str]:
    """The migrations this release carries, named as aerich records them (`N_…_name.py`)."""
    folder = migrations_dir(dialect) / APP_LABEL
    return frozenset(
        module.name + ".py"
        for module in pkgutil.iter_modules([str(folder)])
        if "_" in module.name and module.name.split("_", 1)[0].isdigit()
    )


class Probe(Generic[T]):
    """One statement on one connection, shared by the checks that arrive while it runs."""

    def __init__(self, run: Callable[[], Awaitable[T]]) -> None:
        self._run = run
        self._task: asyncio.Task[T] | None = None

    async def within(self, seconds: float) -> T:
        """The statement's result, from the probe in flight or a new one; TimeoutError past
        `seconds` (the probe goes on for the next caller, up to `PROBE_LIMIT`)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._bounded(), name="phospho-ready-probe")
            self._task.add_done_callback(_retrieve)
        return await asyncio.wait_for(asyncio.shield(self._task), seconds)

    async def _bounded(self) -> T:
        async with asyncio.timeout(PROBE_LIMIT):
            return await self._run()


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a probe's error as seen: every caller may have stopped waiting for it."""
    if not task.cancelled():
        task.exception()


def failed(error: BaseException) -> str:
    """How a probe failed, without the error's text (it may name a host or a user)."""
    if isinstance(error, TimeoutError):
        return f"timeout after {DEADLINE:g} s"
    return f"failed ({type(error).__name__})"


class Readiness:
    """The checks of one server process; `attach` gives it the parts the lifespan opens."""

    def __init__(self, dialect: str, writer: GroupCommitWriter[Any]) -> None:
        self._expected = migration_files(dialect)
        self._writer = writer
        self._backend: WriteBackend | None = None
        self._bridge: PostgresBridge | None = None
        self._reads: Probe[list[dict[str, Any]]] = Probe(
            lambda: reader().execute_query_dict(VERSIONS)
        )
        self._writes: Probe[None] = Probe(self._ping_writer)
        self._last: dict[str, str] = {}

    def attach(self, backend: WriteBackend, bridge: PostgresBridge | None) -> None:
        """The writer's backend, and on PostgreSQL the LISTEN bridge, once they are open."""
        self._backend = backend
        self._bridge = bridge

    async def check(self) -> dict[str, str]:
        """Each check's state: `ok`, or why it fails."""
        reads, writes = await asyncio.gather(
            self._outcome(self._reads), self._outcome(self._writes)
        )
        checks = {
            "database": self._database(reads, writes),
            "migrations": self._migrations(reads),
            "writer": OK if self._writer.running else "stopped",
        }
        if self._bridge is not None:
            checks["live"] = OK if self._bridge.listening else "LISTEN connection down"
        self._log_changes(checks, reads, writes)
        return checks

    async def _ping_writer(self) -> None:
        if self._backend is None:
            raise RuntimeError("the writer has not started")
        await self._backend.ping()

    @staticmethod
    async def _outcome(probe: Probe[Any]) -> Any:
        try:
            return await probe.within(DEADLINE)
        except Exception as exc:  # every failure is a check's answer
            return exc

    @staticmethod
    def _database(reads: Any, writes: Any) -> str:
        problems = [
            f"{name}: {failed(outcome)}"
            for name, outcome in (("reads", reads), ("writes", writes))
            if isinstance(outcome, BaseException)
        ]
        return "; ".join(problems) or OK

    def _migrations(self, reads: Any) -> str:
        if isinstance(reads, BaseException):
            return "unknown (the database did not answer)"
        applied = {str(row["version"]) for row in reads}
        pending = sorted(self._expected - applied, key=lambda name: int(name.split("_", 1)[0]))
        if not pending:
            return OK
        return f"{len(pending)} pending: {', '.join(pending)} (run `phospho migrate`)"

    def _log_changes(self, checks: dict[str, str], *outcomes: Any) -> None:
        """One log line when a check starts or stops failing (the route may be called often)."""
        if checks == self._last:
            return
        errors = [repr(o) for o in outcomes if isinstance(o, Exception)]
        failing = {name: state for name, state in checks.items() if state != OK}
        if failing:
            log.warning("not ready: %s %s", failing, "; ".join(errors))
        elif self._last:
            log.info("ready again")
        self._last = checks
