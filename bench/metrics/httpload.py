"""Ingest over HTTP as bench/ingest measures it: wrk (core 1) against two `phospho serve`
(core 0, a fresh embedded SQLite each), runs interleaved.

This tree against the foundation: the server of an earlier commit (`--foundation REV`),
unpacked with `git archive` into a temp dir and run from there. Bodies come from data.py (six
models, many users), or with `payload="ingest"` from bench/ingest (the workload of the
foundation's own figure: one model, 8 users, 32 sessions).
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
from bench.ingest.procs import PHOSPHO, REPO, Server
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


def compare(
    pair: tuple[Variant, Variant], seconds: int, reps: int, payload: str = "metrics"
) -> dict[str, Comparison]:
    """wrk against both servers, each case alternating which goes first; per case."""
    workdir = Path(tempfile.mkdtemp(prefix="phospho-bench-metrics-wrk-"))
    servers: list[tuple[Server, dict[str, Load]]] = []
    try:
        for index, variant in enumerate(pair):
            data_dir = workdir / f"data-{index}"
            env = {"PHOSPHO_DATA_DIR": str(data_dir), **variant.env}
            loads = _loads(data_dir, _create_key(variant, env), payload)
            server = Server(variant.name, [*variant.command, "serve"], env,
                            workdir / f"server-{index}.log")  # fmt: skip
            servers.append((server, loads))
            server.start()
        found: dict[str, Comparison] = {}
        for rep in range(reps):
            for index, (kind, conns) in enumerate(CASES):
                name = f"{kind} @{conns} conns"
                comparison = found.setdefault(name, Comparison((pair[0].name, pair[1].name)))
                for which in (0, 1) if (rep + index) % 2 == 0 else (1, 0):
                    server, loads = servers[which]
                    run_wrk(server.base_url, loads[kind], conns, 1)  # warm-up
                    events_s = run_wrk(server.base_url, loads[kind], conns, seconds)["events_s"]
                    comparison.add(which == 0, events_s)
                    log(f"  rep {rep + 1} {name} {server.name}: {events_s:,.0f} ev/s")
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
