"""The benchmark's PostgreSQL database and `phospho serve` processes, and their CPU time."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psycopg

from bench.ingest.procs import PHOSPHO, cpu_seconds, free_port, request


def phospho_env(url: str, data_dir: Path) -> dict[str, str]:
    """The environment of every `phospho` command of the run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOSPHO_")}
    env.update(PHOSPHO_DATABASE_URL=url, PHOSPHO_DATA_DIR=str(data_dir))
    return env


def prepare(url: str, data_dir: Path) -> str:
    """Migrate the database and create a project `bench` with a key; returns the key."""
    env = phospho_env(url, data_dir)
    subprocess.run([str(PHOSPHO), "migrate"], env=env, check=True, capture_output=True)
    done = subprocess.run(
        [str(PHOSPHO), "keys", "create", "--project", "bench"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def backend_pids(url: str) -> list[int]:
    """The PostgreSQL backends connected to the database (the servers' pools and LISTEN)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(row[0]) for row in rows]


def cpu_of(pids: list[int]) -> float:
    """CPU seconds used so far by these processes (those gone count 0)."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def machine_busy() -> tuple[int, int]:
    """(busy, total) clock ticks of every core since boot (/proc/stat)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def children(pid: int) -> list[int]:
    """A process's direct children."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@dataclass
class Serve:
    """One `phospho serve [--workers N]` (not pinned: the workers share every core)."""

    url: str
    data_dir: Path
    log_path: Path
    workers: int = 1
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The supervisor (when workers > 1) and every serving process."""
        assert self.proc is not None
        return [self.proc.pid, *children(self.proc.pid)]

    def start(self, timeout: float = 60.0) -> None:
        """Start it and wait for GET /api/v1/health (and, with workers, for all of them)."""
        self._log = self.log_path.open("ab")
        argv = [str(PHOSPHO), "serve", "--port", str(self.port), "--workers", str(self.workers)]
        env = phospho_env(self.url, self.data_dir)
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"phospho serve exited; see {self.log_path}")
            ready = self.workers == 1 or "workers ready" in self.log_path.read_text()
            try:
                if ready and request(self.port, "/api/v1/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"phospho serve did not start; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s; idempotent."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
