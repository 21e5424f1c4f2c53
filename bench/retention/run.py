"""One run of the retention benchmark against a real `phospho serve` (see __main__.py)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

from bench.retention.load import Samples, percentile, run_load
from bench.retention.seed import file_pages, seed_expired

PHOSPHO = Path(sys.executable).parent / "phospho"
WINDOW_DAYS = 7
FIRST_SWEEP = 25.0  # the sweeper's first pass comes this long after the server starts
WARMUP = 3.0
SLICE = 5.0  # p99 per slice of this many seconds; the phase's figure is their median


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Phase:
    """Ingest latency over one phase."""

    name: str
    requests: int
    failed: int  # not 201 (a 503 would count here)
    p50_ms: float
    p99_ms: float  # pooled over the phase
    p99_slices_ms: float  # median of the per-slice p99s


@dataclass
class RunResult:
    """What one run measured."""

    events: int
    chunk: int
    pause_factor: float
    sweep_seconds: float
    phases: list[Phase]
    size_before: tuple[int, int, int]
    size_after: tuple[int, int, int]

    @property
    def deleted_per_s(self) -> float:
        return self.events / self.sweep_seconds if self.sweep_seconds else 0.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _phase(name: str, rows: list[tuple[float, float, int]], start: float, end: float) -> Phase:
    inside = [row for row in rows if start <= row[0] < end]
    latencies = [seconds * 1000 for _, seconds, status in inside if status == 201]
    slices: list[float] = []
    edge = start
    while edge < end:
        part = [
            s * 1000 for due, s, status in inside if edge <= due < edge + SLICE and status == 201
        ]
        if len(part) >= 100:
            slices.append(percentile(part, 0.99))
        edge += SLICE
    return Phase(
        name, len(inside), sum(1 for row in inside if row[2] != 201),
        percentile(latencies, 0.5), percentile(latencies, 0.99),
        median(slices) if slices else 0.0,
    )  # fmt: skip


def run_once(events: int, rate: float, chunk: int, pause_factor: float, after: float) -> RunResult:
    data_dir = Path(tempfile.mkdtemp(prefix="phospho-bench-retention-"))
    path = data_dir / "phospho.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOSPHO_")}
    env |= {"PHOSPHO_DATA_DIR": str(data_dir)}
    try:
        made = subprocess.run([str(PHOSPHO), "keys", "create", "--project", "bench"], env=env,
                              capture_output=True, text=True, check=True)  # fmt: skip
        key = made.stdout.strip()
        project_id = int(sqlite3.connect(path).execute("SELECT id FROM projects").fetchone()[0])
        started = time.perf_counter()
        seed_expired(path, project_id, events, oldest_days=40, newest_days=10)
        log(f"seeded {events:,} expired events in {time.perf_counter() - started:.1f} s")
        size_before = file_pages(path)
        port = _free_port()
        server_env = env | {
            "PHOSPHO_PORT": str(port),
            "PHOSPHO_RETENTION_DAYS": str(WINDOW_DAYS),
            "PHOSPHO_RETENTION_SWEEP_SECONDS": str(FIRST_SWEEP),
            "PHOSPHO_RETENTION_CHUNK_EVENTS": str(chunk),
            "PHOSPHO_RETENTION_PAUSE_FACTOR": str(pause_factor),
        }
        server = subprocess.Popen([str(PHOSPHO), "serve"], env=server_env,
                                  stdout=open(data_dir / "server.log", "ab"),
                                  stderr=subprocess.STDOUT)  # fmt: skip
        try:
            _wait_healthy(port)
            result = asyncio.run(_measure(path, port, key, project_id, rate, after))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        sweep_start, sweep_end, rows, load_start, load_end = result
        phases = [
            _phase("before the sweep", rows, load_start + WARMUP, sweep_start),
            _phase("during the sweep", rows, sweep_start, sweep_end),
            _phase("after the sweep", rows, sweep_end + 1.0, load_end),
        ]
        return RunResult(events, chunk, pause_factor, sweep_end - sweep_start, phases,
                         size_before, file_pages(path))  # fmt: skip
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


async def _measure(
    path: Path, port: int, key: str, project_id: int, rate: float, after: float
) -> tuple[float, float, list[tuple[float, float, int]], float, float]:
    """Load until `after` s past the sweep's end; (sweep start, sweep end, samples, load
    start, load end) on time.monotonic()."""
    samples, stop = Samples(), asyncio.Event()
    load_start = time.monotonic()
    load = asyncio.create_task(run_load(port, key, rate, stop, samples))
    bound = (datetime.now(UTC) - timedelta(days=WINDOW_DAYS)).isoformat(" ")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60, check_same_thread=False)
    oldest_sql = "SELECT MIN(created_at) FROM events WHERE project_id = ?"
    first = conn.execute(oldest_sql, [project_id]).fetchone()[0]
    sweep_start = sweep_end = 0.0
    while not sweep_end:
        await asyncio.sleep(0.25)
        oldest = await asyncio.to_thread(
            lambda: conn.execute(oldest_sql, [project_id]).fetchone()[0]
        )
        if not sweep_start and oldest != first:
            sweep_start = time.monotonic() - 0.25
            log("the sweep has started")
        if sweep_start and (oldest is None or oldest >= bound):
            sweep_end = time.monotonic()
            log(f"the sweep has ended ({sweep_end - sweep_start:.1f} s)")
    conn.close()
    await asyncio.sleep(after)
    stop.set()
    await load
    return sweep_start, sweep_end, samples.rows, load_start, time.monotonic()
