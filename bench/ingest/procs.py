"""The two servers under load: `phospho serve` and the reference app, both pinned to core 0."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PHOSPHO = VENV_BIN / "phospho"
REFERENCE_APP = Path(__file__).resolve().parent / "reference_app.py"
SERVER_CORE = "0"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def phospho_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """What every `phospho` command of the run gets: the data directory, and the database
    when it is not the default SQLite file there."""
    env = {"PHOSPHO_DATA_DIR": str(data_dir)}
    if database_url is not None:
        env["PHOSPHO_DATABASE_URL"] = database_url
    return env


def create_key(data_dir: Path, database_url: str | None = None) -> str:
    """Create a project `bench` and an API key with the CLI; returns the key it prints."""
    env = {**os.environ, **phospho_env(data_dir, database_url)}
    if database_url is not None:  # SQLite's file is created and migrated by `keys create`
        subprocess.run([str(PHOSPHO), "migrate"], env=env, check=True, capture_output=True)
    done = subprocess.run(
        [str(PHOSPHO), "keys", "create", "--project", "bench"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    key = done.stdout.strip()
    if done.returncode != 0 or not key.startswith("ph_"):
        raise RuntimeError(f"`phospho keys create` failed: {done.stderr.strip()}")
    return key


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def core_jiffies(core: str = SERVER_CORE) -> tuple[int, int]:
    """(busy, total) clock ticks of one CPU core since boot, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(value) for value in line.split()[1:]]
            idle = ticks[3] + ticks[4]  # idle + iowait
            return sum(ticks) - idle, sum(ticks)
    return 0, 0


def request(port: int, path: str, body: bytes | None = None, key: str = "") -> tuple[int, bytes]:
    """One HTTP request to 127.0.0.1:`port` (health and sanity checks); status and body."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST" if body is not None else "GET", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@dataclass
class Server:
    """A server process pinned to SERVER_CORE, stopped with SIGTERM (then SIGKILL)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """Where the server listens."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's pid (taskset execs the server, so it is the server itself)."""
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until GET /api/v1/health answers 200."""
        self._log = self.log_path.open("wb")
        argv = ["taskset", "-c", SERVER_CORE, *self.argv, "--port", str(self.port)]
        self.proc = subprocess.Popen(
            argv, env={**os.environ, **self.env}, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            try:
                if request(self.port, "/api/v1/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become healthy in {timeout:.0f}s")

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's output (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the process gracefully (the server commits what it has queued); idempotent."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


def phospho_server(data_dir: Path, log_dir: Path, database_url: str | None = None) -> Server:
    """`phospho serve` on the default SQLite database of `data_dir`, as a user starts it (or
    on `database_url`)."""
    return Server(
        name="phospho",
        argv=[str(PHOSPHO), "serve"],
        env=phospho_env(data_dir, database_url),
        log_path=log_dir / "phospho.log",
    )


def reference_server(key: str, log_dir: Path) -> Server:
    """The reference app, accepting `key`."""
    return Server(
        name="reference",
        argv=[sys.executable, str(REFERENCE_APP)],
        env={"BENCH_REFERENCE_KEY": key},
        log_path=log_dir / "reference.log",
    )
