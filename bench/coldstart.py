"""Cold start: from `phospho serve` starting to its first answer of GET /api/v1/health.

Prepares a SQLite database once (`phospho migrate` in a throwaway data directory), then starts
the server on it RUNS times, each time timing from process start to the first 200 from
/api/v1/health (polled every 5 ms), and stops it. Prints each run and the median against the
bar (1.0 s, issue 23); exits 1 above it.

    .venv/bin/python -m bench.coldstart
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 5
BAR_SECONDS = 1.0
GIVE_UP_SECONDS = 30.0


def phospho_command() -> list[str]:
    """The `phospho` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("phospho")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/api/v1/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start(env: dict[str, str]) -> tuple[float, float]:
    """Seconds from starting `phospho serve` to its first healthy answer, and the CPU seconds
    the server used by then (the figure to trust on a busy machine)."""
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [*phospho_command(), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while not healthy(port):
            if server.poll() is not None:
                errors = server.stderr.read().decode()  # type: ignore[union-attr]
                raise SystemExit(f"the server exited ({server.returncode}):\n{errors}")
            if time.perf_counter() - started > GIVE_UP_SECONDS:
                raise SystemExit("no answer from /api/v1/health")
            time.sleep(0.005)
        return time.perf_counter() - started, cpu_seconds(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="phospho-coldstart-") as data:
        env = {**os.environ, "PHOSPHO_DATA_DIR": data, "PHOSPHO_DATABASE_URL": ""}
        # Bytecode cached, as in any installed server (pip compiles a wheel's modules): where
        # PYTHONDONTWRITEBYTECODE is set, this checkout's ~80 modules would be compiled from
        # source at every start (~0.15 s), which measures the environment, not the server.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([*phospho_command(), "migrate"], env=env, check=True, capture_output=True)
        times = []
        for run in range(1, RUNS + 1):
            wall, cpu = one_start(env)
            times.append(wall)
            print(f"run {run}: {wall:.3f} s (server CPU {cpu:.2f} s)")
    median = statistics.median(times)
    verdict = "ok" if median <= BAR_SECONDS else "ABOVE THE BAR"
    print(f"median of {RUNS}: {median:.3f} s (bar {BAR_SECONDS:.1f} s): {verdict}")
    return 0 if median <= BAR_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
