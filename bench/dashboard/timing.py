"""Serve the seeded database and time every page of `pages.PAGES`: the server's own duration
of each request (its JSON access log's `duration_ms`, matched by X-Request-ID) and, beside it,
the client's time on loopback; the health probe (answered by the protocol, not logged) is the
client-side reference."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.dashboard.pages import PAGES, REFERENCE, Page, resolve
from bench.metrics.pages import EMAIL, PASSWORD, serve
from bench.metrics.seed import Database, log

SERVER_ENV = {"PHOSPHO_ACCESS_LOG": "true", "PHOSPHO_LOG_FORMAT": "json"}
HTMX = {"HX-Request": "true"}


@dataclass
class Timing:
    """One page's samples (ms) and what it answered."""

    page: Page
    status: int = 0
    size: int = 0
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)

    def median(self) -> float:
        """Median server time (client time where the server logs none)."""
        return statistics.median(self.server_ms or self.client_ms)

    def p95(self) -> float:
        """95th percentile of the same samples."""
        samples = sorted(self.server_ms or self.client_ms)
        return samples[max(0, round(len(samples) * 0.95) - 1)]

    def client_median(self) -> float:
        """Median of the client's time."""
        return statistics.median(self.client_ms)


def time_all(
    db: Database, facts: dict[str, str], repeat: int, label: str, env: dict[str, str]
) -> list[Timing]:
    """Start a server on `db` (with `env`), time every page `repeat` times (round robin, so the
    machine's noise spreads over all pages alike), stop it and read its durations from the log."""
    server = serve(db, f"phospho-{label}", SERVER_ENV | env)
    pages = [REFERENCE, *(resolve(page, facts) for page in PAGES)]
    timings = [Timing(page) for page in pages]
    ids: dict[str, Timing] = {}
    try:
        server.start()
        base = server.base_url
        with httpx.Client(base_url=base, headers={"Origin": base}, timeout=120) as client:
            signed_in = client.post("/login", data={"email": EMAIL, "password": PASSWORD})
            if signed_in.status_code != 303:
                raise RuntimeError(f"login answered {signed_in.status_code}")
            for timing in timings:  # warm-up, status and size
                response = _get(client, timing.page, "warm")
                timing.status, timing.size = response.status_code, len(response.content)
            for round_ in range(repeat):
                if round_ % 5 == 0:
                    log(f"  {label}: round {round_ + 1}/{repeat}")
                for n, timing in enumerate(timings):
                    rid = f"bench{round_:04d}p{n:03d}"
                    started = time.perf_counter()
                    _get(client, timing.page, rid)
                    timing.client_ms.append((time.perf_counter() - started) * 1000)
                    ids[rid] = timing
    finally:
        server.stop()
    for rid, ms in _durations(server.log_path).items():
        if rid in ids:
            ids[rid].server_ms.append(ms)
    return timings


def _get(client: httpx.Client, page: Page, rid: str) -> httpx.Response:
    headers = {"X-Request-ID": rid, **(HTMX if page.htmx else {})}
    if page.target:
        headers["HX-Target"] = page.target
    return client.get(page.path, headers=headers)


def _durations(log_path: Path) -> dict[str, float]:
    """request id -> duration_ms, from the server's JSON access lines."""
    found: dict[str, float] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "duration_ms" in record and record.get("request_id"):
            found[record["request_id"]] = float(record["duration_ms"])
    return found
