"""--profile: sample both servers with py-spy during one more run at 16 connections.

py-spy records every thread (--threads --idle --native), so the event-loop thread's time splits
into idle (epoll), GIL waits and work by category, and the aiosqlite writer thread's time into
waiting, fdatasync, WAL truncation and SQL; see stacks.py for the categories.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.ingest import stacks
from bench.ingest.procs import CLOCK_TICKS, VENV_BIN, Server

if TYPE_CHECKING:
    from bench.ingest.runner import Bench

RATE = 100
CONNECTIONS = 16


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of each thread of a process, by thread id."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[task.name] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


def record(bench: Bench, server: Server, out: Path, seconds: int) -> dict[str, Any]:
    """Run wrk at 16 connections and py-spy on `server` in the middle of it."""
    spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if spy is None:
        return {"target": server.name, "error": "py-spy missing: pip install py-spy"}
    argv = [
        spy, "record", "--pid", str(server.pid), "--duration", str(seconds), "--rate", str(RATE),
        "--format", "raw", "--threads", "--idle", "--native", "--output", str(out),
    ]  # fmt: skip
    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(bench.wrk, server, bench.single, CONNECTIONS, seconds + 3)
        time.sleep(1.5)
        before, clock = thread_cpu(server.pid), time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        after, wall = thread_cpu(server.pid), time.monotonic() - clock
        figures = load.result()
    if done.returncode != 0 or not out.exists():
        return {"target": server.name, "error": f"py-spy failed: {done.stderr.strip()[-500:]}"}
    threads = []
    for label, found in stacks.parse(out).items():
        tid = label.split(":", 1)[0]
        worker = "MainThread" not in label
        cpu = after.get(tid, 0.0) - before.get(tid, 0.0)
        threads.append(
            {
                "label": label,
                "worker": worker,
                "cpu_util": cpu / wall,
                "samples": sum(found.values()),
                "categories": dict(stacks.categorise(found, worker).most_common()),
                "hot_python": [] if worker else stacks.hot_frames(found),
            }
        )
    return {
        "target": server.name,
        "file": str(out),
        "rate": RATE,
        "seconds": seconds,
        "req_s": figures["req_s"],
        "threads": threads,
    }


def profile_both(bench: Bench, servers: tuple[Server, Server], out: Path) -> list[dict[str, Any]]:
    """Profile phospho, then the reference (same load), each into its own raw stacks file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    seconds = bench.options.profile_seconds
    return [
        record(bench, server, out.with_name(f"{out.stem}-{server.name}.txt"), seconds)
        for server in servers
    ]


def _per_request(profile: dict[str, Any], samples: float) -> float:
    """Samples of one thread as µs of its wall time per request served while sampling."""
    return 1e6 * samples / profile["rate"] / (profile["req_s"] * profile["seconds"])


def describe(profiles: list[dict[str, Any]]) -> str:
    """Event-loop time per request by category, side by side; the writer thread's time split."""
    errors = [f"{p['target']}: {p['error']}" for p in profiles if "error" in p]
    good = [p for p in profiles if "error" not in p]
    if not good:
        return "profile: " + "; ".join(errors)
    mains = {p["target"]: next(t for t in p["threads"] if not t["worker"]) for p in good}
    names = list(mains)
    order = list(dict.fromkeys(c for t in mains.values() for c in t["categories"]))
    out = [
        f"profile at {CONNECTIONS} connections (py-spy --native --idle, {RATE} Hz, "
        + ", ".join(f"{p['target']} {p['req_s']:,.0f} req/s while sampled" for p in good)
        + ")",
        f"event-loop thread, µs of wall time per request {''.join(f'{n:>11}' for n in names)}",
    ]
    for category in order:
        cells = "".join(
            f"{_per_request(p, mains[p['target']]['categories'].get(category, 0)):11.1f}"
            for p in good
        )
        out.append(f"  {category:<45}{cells}")
    total = "".join(f"{_per_request(p, mains[p['target']]['samples']):11.1f}" for p in good)
    cpu = "".join(f"{1e6 * mains[p['target']]['cpu_util'] / p['req_s']:11.1f}" for p in good)
    out += [f"  {'total (wall)':<45}{total}", f"  {'loop thread CPU (from /proc)':<45}{cpu}"]
    for p in good:
        for thread in (t for t in p["threads"] if t["worker"] and t["samples"]):
            split = ", ".join(
                f"{name} {100 * count / thread['samples']:.0f}%"
                for name, count in thread["categories"].items()
            )
            out.append(
                f"{p['target']} {thread['label']}: CPU {100 * thread['cpu_util']:.0f}% of a core "
                f"= {1e6 * thread['cpu_util'] / p['req_s']:.0f} µs per request; wall time: {split}"
            )
        hot = mains[p["target"]]["hot_python"]
        out.append(
            f"{p['target']}: busiest Python functions (deepest Python frame of each busy "
            "sample; share of the loop thread's time):"
        )
        out += [f"  {100 * n / mains[p['target']]['samples']:5.1f}%  {frame}" for frame, n in hot]
    return "\n".join(out + errors)
