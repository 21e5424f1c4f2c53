"""Ingest over HTTP as bench/ingest measures it: wrk (core 1) against `phospho serve`
servers (core 0, a fresh embedded SQLite each), runs interleaved.

This tree against the foundation: the server of an earlier commit (`--foundation REV`),
unpacked with `git archive` into a temp dir and run from there; and against itself with
rollups off (`rollups_off`), which tells what rollups cost apart from the rest. Bodies come
from data.py (six models, many users), or with `payload="ingest"` from bench/ingest (the
workload of the foundation's own figure: one model, 8 users, 32 sessions).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.ingest import payload as ingest_payload
from bench.ingest.procs import PHOSPHO, REPO, Server, cpu_seconds
from bench.ingest.wrkrun import Load, run_wrk, write_load
from bench.metrics import data
from bench.metrics.cost import Comparison
from bench.metrics.seed import log

CASES = (("batch", 16), ("single", 16))  # (load, connections); batches of 100 events


@dataclass(frozen=True)
class Variant:
    """A server to load: its label, its `phospho` command, extra environment."""

    name: str
    command: tuple[str, ...] = (str(PHOSPHO),)
    env: dict[str, str] = field(default_factory=dict)


@contextmanager
def foundation(rev: str) -> Iterator[Variant]:
    """The server of git revision `rev` (run from a temp dir removed on exit)."""
    root = Path(tempfile.mkdtemp(prefix="phospho-bench-foundation-"))
    try:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev],
                                 capture_output=True, check=True).stdout  # fmt: skip
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
        # Its own `app` first on sys.path, so nothing is imported from this tree.
        code = f"import sys; sys.path.insert(0, {str(root)!r}); from app.cli import main; "
        code += "sys.exit(main())"
        yield Variant(f"foundation {rev}", (sys.executable, "-c", code))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def rollups_off() -> Variant:
    """This tree's server with an Ingestor that keeps no rollups (its metrics stay empty):
    what rollups alone cost, apart from everything else since the foundation."""
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r}); from app.services import ingest; "
        "init = ingest.Ingestor.__init__; "
        "ingest.Ingestor.__init__ = lambda self, **kw: init(self, **{**kw, 'rollups': False}); "
        "from app.cli import main; sys.exit(main())"
    )
    return Variant("this tree, rollups off", (sys.executable, "-c", code))


def compare(
    variants: tuple[Variant, ...], seconds: int, reps: int, payload: str = "metrics"
) -> dict[str, Comparison]:
    """wrk against every server, per case: the first variant against each other one. Each
    server is warmed up once per case; then each repetition runs the servers back to back
    for `seconds`, in an order that turns from one repetition to the next. Short runs and
    many repetitions: the closer in time the runs of a pair, the more alike the machine's
    speed (it drifts within seconds), and the median of many pair ratios moves little. The
    server's CPU time per event is read from /proc around each run."""
    workdir = Path(tempfile.mkdtemp(prefix="phospho-bench-metrics-wrk-"))
    servers: list[tuple[Server, dict[str, Load]]] = []
    try:
        for index, variant in enumerate(variants):
            data_dir = workdir / f"data-{index}"
            env = {"PHOSPHO_DATA_DIR": str(data_dir), **variant.env}
            loads = _loads(data_dir, _create_key(variant, env), payload)
            server = Server(variant.name, [*variant.command, "serve"], env,
                            workdir / f"server-{index}.log")  # fmt: skip
            servers.append((server, loads))
            server.start()
        found: dict[str, Comparison] = {}
        for kind, conns in CASES:
            for server, loads in servers:
                run_wrk(server.base_url, loads[kind], conns, 2)  # warm-up
            for rep in range(reps):
                turn = rep % len(servers)
                runs: dict[int, tuple[float, float]] = {}
                for which in [*range(turn, len(servers)), *range(turn)]:
                    server, loads = servers[which]
                    before = cpu_seconds(server.pid)
                    figures = run_wrk(server.base_url, loads[kind], conns, seconds)
                    events = figures["ok_requests"] * figures["events_per_request"]
                    cpu_us = (cpu_seconds(server.pid) - before) / max(events, 1) * 1e6
                    runs[which] = (figures["events_s"], cpu_us)
                    log(f"  rep {rep + 1} {kind} @{conns} conns {server.name}: "
                        f"{figures['events_s']:,.0f} ev/s, {cpu_us:,.0f} µs CPU/event")  # fmt: skip
                for other in range(1, len(servers)):
                    name = f"{kind} @{conns} conns, against {variants[other].name}"
                    labels = (variants[0].name, variants[other].name)
                    comparison = found.setdefault(name, Comparison(labels))
                    comparison.add(True, *runs[0])
                    comparison.add(False, *runs[other])
        return found
    finally:
        for server, _ in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _create_key(variant: Variant, env: dict[str, str]) -> str:
    argv = [*variant.command, "keys", "create", "--project", "bench"]
    done = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0 or not done.stdout.startswith("ph_"):
        raise RuntimeError(f"{variant.name}: `keys create` failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _loads(data_dir: Path, key: str, payload: str) -> dict[str, Load]:
    data_dir.mkdir(parents=True, exist_ok=True)
    if payload == "ingest":
        singles, batches = ingest_payload.single_bodies(), ingest_payload.batch_bodies()
    else:
        singles = [json.dumps(event) for event in data.batch(0, 32, size=32)]
        batches = [
            json.dumps({"events": data.batch(start, start + 100, size=100)})
            for start in range(0, 800, 100)
        ]
    return {
        "single": write_load(data_dir, "single", "/api/v1/events", key, singles),
        "batch": write_load(data_dir, "batch", "/api/v1/events/batch", key, batches),
    }
