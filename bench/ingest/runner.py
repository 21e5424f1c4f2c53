"""The benchmark itself: start both servers, run the interleaved wrk loads, check durability."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.ingest import payload
from bench.ingest.procs import (
    PHOSPHO,
    Server,
    core_jiffies,
    cpu_seconds,
    create_key,
    phospho_server,
    reference_server,
    request,
)
from bench.ingest.wrkrun import Load, run_wrk, write_load, wrk_path

SINGLE_PATH = "/api/v1/events"
BATCH_PATH = "/api/v1/events/batch"


@dataclass(frozen=True)
class Options:
    """What to run."""

    duration: int
    warmup: int
    reps: int
    connections: tuple[int, ...]
    batch_connections: int
    profile: Path | None
    profile_seconds: int = 20
    postgres: str | None = None  # an admin URL: phospho on a throwaway PostgreSQL database


def log(message: str) -> None:
    """Progress goes to stderr; the report goes to stdout."""
    print(message, file=sys.stderr, flush=True)


def check_response(server: Server, key: str, path: str, body: str, events: int) -> None:
    """One request by hand: 201 and the documented response shape, before any load."""
    status, raw = request(server.port, path, body.encode(), key)
    if status != 201:
        raise RuntimeError(f"{server.name} answered {status} to {path}: {raw[:300]!r}")
    data = json.loads(raw)
    results = data["results"] if path == BATCH_PATH else [data]
    # phospho adds each event's feedback_token; the reference app answers without one.
    if len(results) != events or any(
        set(item) - {"feedback_token"} != {"event_id", "session_id", "created_at"}
        for item in results
    ):
        raise RuntimeError(f"{server.name} answered an unexpected body to {path}: {raw[:300]!r}")


class Bench:
    """Servers, loads and every run's figures; `acked` counts phospho's acknowledged events."""

    def __init__(self, options: Options, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.runs: list[dict[str, Any]] = []
        self.acked = 0
        self.in_flight_bound = 0
        self.servers: list[Server] = []
        self.database_url: str | None = None  # PostgreSQL's, else the default SQLite file

    def start(self) -> tuple[Server, Server]:
        """Create the key, start the reference app and phospho, check both answer alike."""
        key = create_key(self.data_dir, self.database_url)
        reference = reference_server(key, self.workdir)
        phospho = phospho_server(self.data_dir, self.workdir, self.database_url)
        for server in (reference, phospho):
            self.servers.append(server)
            server.start()
        single, batch = payload.single_bodies(), payload.batch_bodies()
        for server in (reference, phospho):
            check_response(server, key, SINGLE_PATH, single[0], 1)
            check_response(server, key, BATCH_PATH, batch[0], payload.BATCH_SIZE)
        self.acked += 1 + payload.BATCH_SIZE
        self.single = write_load(self.workdir, "single", SINGLE_PATH, key, single)
        self.batch = write_load(self.workdir, "batch", BATCH_PATH, key, batch)
        return reference, phospho

    def wrk(self, server: Server, load: Load, conns: int, seconds: int) -> dict[str, Any]:
        """One wrk run, with the server's CPU use and how busy its core was with anything else.

        phospho's 2xx answers are counted as acknowledged events (for the durability check).
        """
        before, clock, core = cpu_seconds(server.pid), time.monotonic(), core_jiffies()
        figures = run_wrk(server.base_url, load, conns, seconds)
        cpu, wall = cpu_seconds(server.pid) - before, time.monotonic() - clock
        busy, total = (after - first for after, first in zip(core_jiffies(), core, strict=True))
        core_busy = busy / total if total else 0.0
        figures.update(
            cpu_s=cpu,
            cpu_util=cpu / wall,
            cpu_us_per_request=1e6 * cpu / max(figures["requests"], 1),
            core_busy=core_busy,
            core_others=max(core_busy - cpu / wall, 0.0),
        )
        if server.name == "phospho":
            self.acked += figures["ok_requests"] * load.events_per_request
            self.in_flight_bound += conns * load.events_per_request
        return figures

    def measure(self, server: Server, kind: str, conns: int, rep: int) -> None:
        """Warm up, then one measured run; prints a progress line."""
        load = self.single if kind == "single" else self.batch
        if self.options.warmup:
            self.wrk(server, load, conns, self.options.warmup)
        figures = self.wrk(server, load, conns, self.options.duration)
        figures.update(target=server.name, kind=kind, rep=rep)
        self.runs.append(figures)
        log(
            f"rep {rep}  {kind:<6} c={conns:<3} {server.name:<9} "
            f"{figures['events_s']:>9.0f} ev/s  p50 {figures['p50_us'] / 1000:7.2f} ms  "
            f"p99 {figures['p99_us'] / 1000:7.2f} ms  cpu {100 * figures['cpu_util']:3.0f}% "
            f"(others on core 0: {100 * figures['core_others']:3.0f}%)  "
            f"non-2xx {figures['non2xx']}  timeouts {figures['timeout']}"
        )

    def interleaved(self, reference: Server, phospho: Server) -> None:
        """Each repetition: every connection count, then the batch; the order alternates."""
        cases = [("single", conns) for conns in self.options.connections]
        cases.append(("batch", self.options.batch_connections))
        for rep in range(1, self.options.reps + 1):
            for index, (kind, conns) in enumerate(cases):
                # Each case swaps which server goes first from one repetition to the next.
                pair = (reference, phospho) if (rep + index) % 2 else (phospho, reference)
                for server in pair:
                    self.measure(server, kind, conns, rep)

    def durability(self, phospho: Server) -> dict[str, Any]:
        """Stop phospho, then compare the rows in `events` with the events it acknowledged."""
        phospho.stop()
        rows = self.stored_rows()
        extra = rows - self.acked
        return {
            "rows": rows,
            "acknowledged": self.acked,
            "extra_rows": extra,
            "in_flight_bound": self.in_flight_bound,
            "all_acknowledged_stored": rows >= self.acked,
            "extra_explained": 0 <= extra <= self.in_flight_bound,
        }

    def stored_rows(self) -> int:
        """Rows in `events`."""
        if self.database_url is not None:
            import psycopg

            with psycopg.connect(self.database_url) as pg:
                row = pg.execute("SELECT count(*) FROM events").fetchone()
                return int(row[0]) if row is not None else 0
        database = self.data_dir / "phospho.sqlite3"
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def run(options: Options) -> dict[str, Any]:
    """Run the whole benchmark; returns the raw figures. Servers and temp files never outlive it."""
    wrk_path()
    if not PHOSPHO.exists():
        raise RuntimeError(f"{PHOSPHO} not found: install the project into this venv")
    workdir = Path(tempfile.mkdtemp(prefix="phospho-bench-"))
    bench = Bench(options, workdir)
    result: dict[str, Any] = {}
    if options.postgres is not None:
        from bench.metrics.seed import _create_pg_database

        bench.database_url = _create_pg_database(options.postgres)
    try:
        reference, phospho = bench.start()
        log(f"phospho pid {phospho.pid} on {phospho.base_url}, reference pid {reference.pid}")
        bench.interleaved(reference, phospho)
        if options.profile is not None:
            from bench.ingest.profiling import profile_both

            result["profile"] = profile_both(bench, (phospho, reference), options.profile)
        reference.stop()
        result["durability"] = bench.durability(phospho)
    except Exception:
        for server in bench.servers:
            log(f"--- last lines of {server.name}'s output:\n{server.log_tail()}")
        raise
    finally:
        for server in bench.servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if options.postgres is not None and bench.database_url is not None:
            from bench.metrics.seed import _drop_pg_database

            _drop_pg_database(options.postgres, bench.database_url)
    result["runs"] = bench.runs
    return result
