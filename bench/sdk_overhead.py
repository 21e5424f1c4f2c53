"""How much time `phospho.log` costs the caller, in background and in blocking mode.

Starts a local `phospho serve` on a throwaway SQLite database, then measures, call by call:

* background mode: `phospho.log` (queue + return) against a no-op function taking the same
  arguments and a bare `queue.SimpleQueue.put` of the same dict, 10,000 calls each by default;
* blocking mode: `phospho.log` (one HTTP round trip, the event durably stored) against a bare
  `httpx.Client.post` of the same JSON to the same server.

The measurements are interleaved in rounds so that both sides see the same machine state.
Prints medians and p99 in microseconds. A figure, not a test:

    .venv/bin/python bench/sdk_overhead.py [--calls 10000] [--blocking-calls 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "sdks" / "python"))  # this checkout's SDK

import phospho  # noqa: E402

PAYLOAD: dict[str, Any] = {
    "input": "Summarize this document for me",
    "output": "Here is a summary of the key points...",
    "session_id": "conversation_123",
    "user_id": "user_456",
    "metadata": {"model": "gpt-4", "tokens_in": 150, "tokens_out": 89, "latency_ms": 1230},
}


def phospho_command() -> list[str]:
    """The `phospho` CLI of this environment (or the module, from the checkout)."""
    script = Path(sys.executable).parent / "phospho"
    if script.exists():
        return [str(script)]
    found = shutil.which("phospho")
    return [found] if found else [sys.executable, "-m", "app.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_server() -> Iterator[tuple[str, str, Path]]:
    """A fresh server; yields (base_url, api_key, database path)."""
    data_dir = Path(tempfile.mkdtemp(prefix="phospho-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOSPHO_")}
    env["PHOSPHO_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(REPO)
    cmd = phospho_command()
    key = subprocess.run(
        [*cmd, "keys", "create", "--project", "bench"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    port = free_port()
    log = open(data_dir / "server.log", "wb")  # closed in `finally`
    proc = subprocess.Popen(
        [*cmd, "serve", "--port", str(port)], env=env, cwd=REPO, stdout=log, stderr=log
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited: see {data_dir / 'server.log'}")
            try:
                if httpx.get(base_url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.1)
        yield base_url, key, data_dir / "phospho.sqlite3"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def timed(call: Callable[[], object], count: int, into: list[float]) -> None:
    """Time `count` calls one by one; append each duration (µs) to `into`."""
    clock = time.perf_counter_ns
    for _ in range(count):
        start = clock()
        call()
        into.append((clock() - start) / 1000)


def interleaved(
    calls: dict[str, Callable[[], object]], total: int, rounds: int = 10
) -> dict[str, list[float]]:
    """Run every callable `total` times, alternating in `rounds` rounds."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    per_round = max(1, total // rounds)
    done = 0
    while done < total:
        count = min(per_round, total - done)
        for name, call in calls.items():
            timed(call, count, samples[name])
        done += count
    return samples


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def report(title: str, samples: dict[str, list[float]], reference: str) -> None:
    print(f"\n{title}")
    print(f"  {'':<38}{'calls':>8}{'median µs':>12}{'p99 µs':>12}{'Δ median':>11}")
    base = statistics.median(samples[reference])
    for name, values in samples.items():
        median = statistics.median(values)
        delta = "" if name == reference else f"{median - base:+.1f}"
        print(f"  {name:<38}{len(values):>8}{median:>12.1f}{p99(values):>12.1f}{delta:>11}")


def stored_events(database: Path) -> int:
    with sqlite3.connect(database, timeout=30) as conn:
        count = int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    conn.close()
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000, help="background-mode calls")
    parser.add_argument("--blocking-calls", type=int, default=2_000, help="blocking-mode calls")
    args = parser.parse_args()

    print(
        f"phospho-sdk {phospho.__version__}, httpx {httpx.__version__}, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s), {platform.machine()}"
    )
    with local_server() as (base_url, key, database):
        # ------------------------------------------------------------ background mode
        client = phospho.Client(api_key=key, base_url=base_url, background=True)
        sink: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()

        def noop(
            input: str,
            output: str,
            *,
            session_id: str | None = None,
            user_id: str | None = None,
            metadata: dict[str, Any] | None = None,
        ) -> None:
            return None

        meta = PAYLOAD["metadata"]
        background = interleaved(
            {
                "no-op function call (reference)": lambda: noop(**PAYLOAD),
                "queue.SimpleQueue.put(dict)": lambda: sink.put(dict(PAYLOAD, metadata=meta)),
                "phospho.log, background mode": lambda: client.log(**PAYLOAD),
            },
            args.calls,
        )
        started = time.monotonic()
        flushed = client.flush(timeout=60)
        flush_s = time.monotonic() - started
        stats = client.stats()
        client.close()
        report(
            f"Background mode ({args.calls:,} calls each; the worker sends batches meanwhile)",
            background,
            "no-op function call (reference)",
        )
        print(
            f"  flush() after the loop: {flush_s * 1000:.0f} ms, flushed={flushed}; "
            f"sent={stats['sent']} dropped={stats['dropped']} failed={stats['failed']}; "
            f"stored in the database: {stored_events(database)}"
        )

        # ------------------------------------------------------------ blocking mode
        before = stored_events(database)
        blocking_client = phospho.Client(api_key=key, base_url=base_url)
        bare = httpx.Client(timeout=10)
        headers = {"Authorization": f"Bearer {key}"}
        url = base_url + "/api/v1/events"

        def bare_post() -> None:
            bare.post(url, json=PAYLOAD, headers=headers).raise_for_status()

        for _ in range(50):  # warm up connections and the server
            bare_post()
            blocking_client.log(**PAYLOAD)
        blocking = interleaved(
            {
                "httpx.Client.post (reference)": bare_post,
                "phospho.log, blocking mode": lambda: blocking_client.log(**PAYLOAD),
            },
            args.blocking_calls,
        )
        bare.close()
        blocking_client.close()
        report(
            f"Blocking mode ({args.blocking_calls:,} calls each, local server, SQLite)",
            blocking,
            "httpx.Client.post (reference)",
        )
        print(
            f"  stored in the database: {stored_events(database) - before} "
            f"(expected {2 * (args.blocking_calls + 50)})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
