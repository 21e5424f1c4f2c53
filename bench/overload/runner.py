"""One mix's phases against one fresh server: capacity, unloaded, 2x and 10x, with the health
prober and an RSS sampler running throughout; then what was stored is checked."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.ingest.procs import PHOSPHO, REPO, Server, cpu_seconds, create_key

LOADGEN_CORE = "1"


@dataclass(frozen=True)
class Mix:
    """What each request carries, and how many closed-loop clients measure capacity: as many
    as the server admits at once by default (64 requests; 1 MiB of ~90 KB batches, ~11), so
    that capacity is measured without refusals."""

    name: str
    path: str
    events: int  # per request
    capacity_clients: int


MIXES = {
    "single": Mix("single", "/api/v1/events", 1, 64),
    "batch": Mix("batch", "/api/v1/events/batch", 100, 8),
}


@dataclass
class Options:
    """Durations and shape of the load."""

    seconds: float = 20.0  # each overload phase
    capacity_seconds: float = 10.0
    unloaded_seconds: float = 10.0
    settle_seconds: float = 5.0  # after each overload phase, before "after" RSS
    connections: int = 64
    factors: tuple[float, ...] = (2.0, 10.0)
    unloaded_factor: float = 0.1
    server_env: dict[str, str] = field(default_factory=dict)


def log(message: str) -> None:
    """Progress goes to stderr."""
    print(message, file=sys.stderr, flush=True)


def rss_mb(pid: int) -> float:
    """Resident set size of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler(threading.Thread):
    """Samples the server's RSS every 100 ms: [(monotonic time, MB)]."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append((time.monotonic(), rss_mb(self.pid)))
            self.done.wait(0.1)

    def between(self, start: float, end: float) -> list[float]:
        """RSS samples taken in [start, end]."""
        return [mb for at, mb in self.samples if start <= at <= end]


def run_loadgen(spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """One load generator run (pinned to LOADGEN_CORE); its figures."""
    path = workdir / f"spec-{spec['run_id']}.json"
    path.write_text(json.dumps(spec))
    argv = [
        "taskset",
        "-c",
        LOADGEN_CORE,
        sys.executable,
        "-m",
        "bench.overload.loadgen",
        str(path),
    ]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run_mix(mix: Mix, options: Options) -> dict[str, Any]:
    """Every phase of one mix; a dict of figures per phase plus the server's RSS and probes."""
    workdir = Path(tempfile.mkdtemp(prefix=f"phospho-bench-overload-{mix.name}-"))
    data_dir = workdir / "data"
    key = create_key(data_dir)
    server = Server(
        f"phospho ({mix.name})",
        [str(PHOSPHO), "serve"],
        {"PHOSPHO_DATA_DIR": str(data_dir), **options.server_env},
        workdir / "server.log",
    )
    server.start()
    sampler = Sampler(server.pid)
    sampler.start()
    probes_path = workdir / "probes.json"
    prober = subprocess.Popen(
        ["taskset", "-c", LOADGEN_CORE, sys.executable, "-m", "bench.overload.probe",
         str(server.port), str(probes_path)], cwd=REPO)  # fmt: skip
    run_id = uuid.uuid4().int & 0xFFFF_FFFF
    phases: dict[str, Any] = {}
    base = {"port": server.port, "key": key, "path": mix.path, "events_per_request": mix.events}

    def phase(name: str, **spec: Any) -> dict[str, Any]:
        nonlocal run_id
        run_id += 1
        cpu_before = cpu_seconds(server.pid)
        figures = run_loadgen({**base, "run_id": run_id & 0xFFFF_FFFF, **spec}, workdir)
        figures.update(
            name=name, run_id=run_id & 0xFFFF_FFFF, cpu=cpu_seconds(server.pid) - cpu_before
        )
        phases[name] = figures
        return figures

    try:
        rss_start = rss_mb(server.pid)
        clients = mix.capacity_clients
        log(f"[{mix.name}] warm-up, then capacity: closed loop, {clients} connections")
        phase("warmup", mode="closed", connections=clients, seconds=3)
        capacity = phase("capacity", mode="closed", connections=clients,
                         seconds=options.capacity_seconds)  # fmt: skip
        rate = _ok(capacity) / capacity["seconds"]
        log(f"[{mix.name}] capacity {rate:,.0f} req/s; unloaded at {options.unloaded_factor:g}x")
        phase("unloaded", rate=rate * options.unloaded_factor, connections=options.connections,
              seconds=options.unloaded_seconds)  # fmt: skip
        for factor in options.factors:
            log(f"[{mix.name}] {factor:g}x: {rate * factor:,.0f} req/s for {options.seconds:g} s")
            phase(f"{factor:g}x", rate=rate * factor, connections=options.connections,
                  seconds=options.seconds)  # fmt: skip
            phases[f"{factor:g}x"]["settled"] = time.monotonic() + options.settle_seconds
            time.sleep(options.settle_seconds)
    finally:
        prober.send_signal(signal.SIGTERM)
        prober.wait(timeout=30)
        sampler.done.set()
        sampler.join()
        server.stop()  # commits whatever is queued
    stored = _stored_numbers(data_dir / "phospho.sqlite3")
    probes = json.loads(probes_path.read_text()) if probes_path.exists() else []
    return {
        "mix": mix,
        "phases": phases,
        "rss_start": rss_start,
        "sampler": sampler,
        "probes": probes,
        "stored": stored,
        "capacity_rate": rate,
        "workdir": workdir,
    }


def _ok(figures: dict[str, Any]) -> int:
    return sum(count for status, count in figures["status"].items() if status.startswith("2"))


def _stored_numbers(path: Path) -> dict[int, set[int]]:
    """Stored event numbers per run id (event ids are RRRRRRRR-0000-4000-8000-NNNNNNNNNNNN)."""
    found: dict[int, set[int]] = {}
    with sqlite3.connect(path) as conn:
        for (event_id,) in conn.execute("SELECT id FROM events"):
            text = str(event_id)
            found.setdefault(int(text[:8], 16), set()).add(int(text[-12:], 16))
    return found
